"""``akis experiment`` on each database (issue 17): create, weights, pause, results (table and
JSON), promote, and one ``error:`` line for a refusal."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from editor.experiment_cli import app
from runtime.settings import get_settings
from storage.db import Database
from storage.repos import flows
from storage.repos.runs import record_run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = json.loads((ROOT / "examples" / "pallet_assistant.json").read_text(encoding="utf-8"))


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator:
    monkeypatch.setenv("AKIS_DATABASE_URL", db.url)
    monkeypatch.setenv("AKIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "220")  # the table as a wide terminal shows it, cells unwrapped
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    yield invoke
    get_settings.cache_clear()


def test_an_experiment_from_the_command_line(cli, db: Database) -> None:
    db.call(flows.save_flow, "2", EXAMPLE)
    db.call(flows.save_flow, "2", {**EXAMPLE, "name": "shorter prompt"})
    code, _, err = cli("create", "pallet-assistant", "A=1:60", "B=2:30", "--tenant", "2")
    assert code == 1 and err.strip() == "error: the weights add up to 90; they must add up to 100"
    code, _, err = cli("create", "pallet-assistant", "A=1", "--tenant", "2")
    assert code == 1 and "NAME=VERSION:WEIGHT" in err
    code, out, _ = cli("create", "pallet-assistant", "A=1:50", "B=2:50", "--tenant", "2", "--name", "short",
                       "--min-runs", "10", "--start")
    assert code == 0 and "running" in out and "A=pallet-assistant@1:50%" in out
    experiment_id = out.split()[0]
    assert cli("list", "--tenant", "2")[1].split()[0] == experiment_id
    assert cli("list", "--tenant", "3")[1] == ""
    code, out, _ = cli("weights", experiment_id, "A=80", "B=20", "--tenant", "2")
    assert code == 0 and "A=pallet-assistant@1:80%" in out
    assert "paused" in cli("pause", experiment_id, "--tenant", "2")[1]
    for n in range(12):
        for variant, delay in (("A", 300.0), ("B", 200.0)):
            db.call(record_run, "2", f"{variant}{n}", "pallet-assistant", status="succeeded",
                    first_chunk_ms=delay + n, duration_ms=delay + 500 + n, experiment_id=experiment_id,
                    variant=variant)
    code, out, _ = cli("results", experiment_id, "--tenant", "2")
    assert code == 0 and "winner: B" in out and "better" in out and "Peeking" in out
    code, out, _ = cli("results", experiment_id, "--tenant", "2", "--json")
    data = json.loads(out)
    assert data["winner"] == "B" and [v["runs"] for v in data["variants"]] == [12, 12]
    assert cli("results", experiment_id, "--tenant", "3")[0] == 1  # another tenant: not found
    code, out, _ = cli("promote", experiment_id, "B", "--tenant", "2")
    assert code == 0 and "promoted" in out
    assert db.call(flows.get_flow, "2", "pallet-assistant").current_version == 2
