"""The storage commands, end to end on each database: export/import, metrics, tokens, users, db."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runtime.ports import MetricRow
from runtime.settings import get_settings
from storage.cli import app
from storage.repos import flows, metrics, tokens

VERSIONS = Path(__file__).resolve().parents[3] / "storage" / "migrations" / "versions"
HEAD_REVISION = max(p.name[:4] for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))  # e.g. "0004"

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "pallet_assistant.json"


@pytest.fixture
def cli(db, monkeypatch, tmp_path):
    """Invoke ``akis <args>`` against the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("AKIS_DATABASE_URL", db.url)
    monkeypatch.setenv("AKIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AKIS_REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), input=stdin)
        return result.exit_code, result.stdout, result.stderr

    yield invoke
    get_settings.cache_clear()


def test_export_then_import_is_the_identity(cli, db, tmp_path):
    code, out, _ = cli("import", str(EXAMPLE), "--tenant", "2")
    assert code == 0 and "version 1" in out
    code, exported, _ = cli("export", "pallet-assistant", "--tenant", "2")
    assert code == 0
    (tmp_path / "flow.json").write_text(exported)
    code, out, _ = cli("import", str(tmp_path / "flow.json"), "--tenant", "2", "--comment", "round trip")
    assert code == 0 and "version 2" in out
    code, again, _ = cli("export", "pallet-assistant", "--tenant", "2")
    assert again == exported
    assert cli("export", "pallet-assistant", "--tenant", "2", "--version", "1")[1] == exported
    code, _, err = cli("export", "pallet-assistant", "--tenant", "2", "--version", "9")
    assert code == 1 and "version 9" in err
    assert json.loads(exported) == db.call(flows.get_document, "2", "pallet-assistant").dump()
    code, out, _ = cli("flows", "versions", "pallet-assistant", "--tenant", "2")
    assert code == 0 and "* v2" in out and "round trip" in out
    code, out, _ = cli("flows", "use", "pallet-assistant", "1", "--tenant", "2")
    assert code == 0 and db.call(flows.get_flow, "2", "pallet-assistant").current_version == 1


def test_import_validates_first_and_stores_nothing_when_invalid(cli, db, tmp_path):
    bad = json.loads(EXAMPLE.read_text())
    bad["nodes"].append({"id": "node_9", "type": "no_such_type"})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    code, _, err = cli("import", str(tmp_path / "bad.json"), "--tenant", "2")
    assert code == 1 and err.startswith("error:") and "node_9" in err and "Traceback" not in err
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = cli("import", str(tmp_path / "broken.json"))
    assert code == 1 and "not valid JSON" in err
    assert db.call(flows.list_flows, "2") == []
    code, _, err = cli("export", "pallet-assistant", "--tenant", "2")
    assert code == 1 and err == "error: flow 'pallet-assistant' not found for tenant 2\n"


def test_metrics_prints_the_seed_query(cli, db):
    now = datetime.now(UTC)
    db.call(metrics.add_metric_rows, [
        MetricRow("2", "6", "r", "node_2", "category_detection", 800.0, "miss", "succeeded", created_at=now),
        MetricRow("2", "6", "r", "node_3", "product_search", 600.0, "hit", "succeeded", created_at=now),
        MetricRow("2", "6", "r", "node_3", "product_search", 200.0, "miss", "succeeded", created_at=now),
        MetricRow("5", "9", "r", "node_3", "secret_tenant_5_node", 1.0, "off", "succeeded", created_at=now),
    ])
    code, out, _ = cli("metrics", "--tenant", "2", "--since", "24h", "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [(r["node_type"], r["avg_ms"], r["count"]) for r in rows] == [
        ("category_detection", 800.0, 1), ("product_search", 400.0, 2)]
    code, out, _ = cli("metrics", "--tenant", "2")
    assert code == 0 and out.index("category_detection") < out.index("product_search")
    assert "secret_tenant_5_node" not in out
    code, _, err = cli("metrics", "--tenant", "2", "--since", "soon")
    assert code == 1 and "--since" in err


def test_tokens_are_printed_once_and_can_be_revoked(cli, db):
    code, out, err = cli("token", "create", "--tenant", "2", "--name", "ci")
    plaintext = out.strip()
    assert code == 0 and plaintext.startswith("akis_") and "cannot be shown again" in err
    assert db.call(tokens.verify_token, plaintext) == "2"
    code, listed, _ = cli("token", "list", "--tenant", "2")
    token_id = plaintext.split("_")[1]
    assert token_id in listed and plaintext not in listed
    assert cli("token", "revoke", token_id, "--tenant", "5")[0] == 1  # not tenant 5's token
    assert cli("token", "revoke", token_id, "--tenant", "2")[0] == 0
    assert db.call(tokens.verify_token, plaintext) is None


def test_users_and_db_commands(cli):
    code, out, _ = cli("user", "create", "--tenant", "2", "--username", "alice", "--password-stdin",
                       stdin="correct horse battery\n")
    assert code == 0 and "alice" in out
    code, _, err = cli(
        "user", "create", "--tenant", "2", "--username", "alice", "--password-stdin", stdin="another one\n"
    )
    assert code == 1 and "already exists" in err
    assert "alice" in cli("user", "list", "--tenant", "2")[1]
    head = HEAD_REVISION  # the newest migration in storage/migrations/versions
    code, out, _ = cli("db", "upgrade")
    assert code == 0 and f"{head} -> {head}" in out
    code, out, _ = cli("db", "current")
    assert code == 0 and f"at {head}, head {head}" in out
    code, _, err = cli("worker")
    assert code == 1 and "AKIS_REDIS_URL" in err


def test_user_sessions_are_listed_revoked_and_end_with_a_password_change(cli, db):
    from storage.repos import sessions, users

    db.call(users.create_user, "2", "alice", "correct horse battery")
    first, first_secret = db.call(sessions.create_session, "2", "alice", user_agent="Firefox", address="10.0.0.1")
    second, second_secret = db.call(sessions.create_session, "2", "alice", user_agent="Chromium", address="10.0.0.2")
    third, third_secret = db.call(sessions.create_session, "2", "alice", user_agent="Safari", address="10.0.0.3")
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice")
    assert code == 0 and {first.id, second.id, third.id} <= set(out.split()) and "Chromium" in out
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice", "--json")
    assert {row["id"] for row in json.loads(out)} == {first.id, second.id, third.id}
    assert cli("user", "sessions", "--tenant", "5", "--username", "alice")[0] == 1  # not tenant 5's user
    assert cli("user", "sessions", "--tenant", "2", "--username", "alice", "--revoke", "nope")[0] == 1
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice", "--revoke", first.id)
    assert code == 0 and first.id in out
    assert db.call(sessions.lookup_session, first.id, first_secret) is None
    assert db.call(sessions.lookup_session, second.id, second_secret) is not None
    code, out, _ = cli("user", "passwd", "--tenant", "2", "--username", "alice", "--password-stdin",
                       stdin="a brand new password\n")
    assert code == 0 and "2 session(s) ended" in out
    assert db.call(sessions.lookup_session, second.id, second_secret) is None
    assert db.call(sessions.lookup_session, third.id, third_secret) is None
    assert db.call(users.authenticate, "2", "alice", "a brand new password") is not None
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice")
    assert code == 0 and "no live sessions" in out
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice", "--all")
    assert code == 0 and out.count("ended") == 3
    assert cli("user", "passwd", "--tenant", "2", "--username", "alice", "--password-stdin", stdin="short\n")[0] == 1
    assert (
        cli("user", "passwd", "--tenant", "2", "--username", "bob", "--password-stdin", stdin="long enough!\n")[0] == 1
    )
    db.call(sessions.create_session, "2", "alice")
    code, out, _ = cli("user", "sessions", "--tenant", "2", "--username", "alice", "--revoke-all")
    assert code == 0 and "ended 1 session(s)" in out
