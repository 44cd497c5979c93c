"""``akis eval`` as CI runs it: a subprocess on the embedded SQLite default, exit codes 0 (gate
passed), 1 (gate failed: under --min-pass, or a regression beyond --tolerance), 2 (cannot run)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.api.harness import server_env

from .flows import BROKEN, echo_flow, fifty_cases, jsonl


@pytest.fixture
def akis(tmp_path: Path):
    env = server_env({"AKIS_DATABASE_URL": f"sqlite:///{tmp_path / 'ci.db'}", "AKIS_DATA_DIR": str(tmp_path / "d")})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "import app; app.main()", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    for broken in (False, True):  # version 1, then version 2 that breaks the five BROKEN cases
        path = tmp_path / "flow.json"
        path.write_text(json.dumps(echo_flow("echo", broken=broken)), encoding="utf-8")
        done = run("import", str(path), "--tenant", "2")
        assert done.returncode == 0, done.stderr
    (tmp_path / "cases.jsonl").write_text(jsonl("regression", fifty_cases()), encoding="utf-8")
    return run


def test_the_gate_passes_fails_and_reports(akis):
    passed = akis("eval", "cases.jsonl", "--flow", "echo@1", "--min-pass", "0.9", "--tenant", "2")
    assert passed.returncode == 0, passed.stderr
    assert "passed" in passed.stdout and "100.0%" in passed.stdout and "regression" in passed.stdout

    under = akis("eval", "regression", "--flow", "echo", "--min-pass", "0.95", "--tenant", "2", "--cases")
    assert under.returncode == 1
    assert "FAILED: v2: pass rate 90.0% is under 95.0%" in under.stderr
    assert all(case in under.stdout for case in BROKEN)  # --cases lists the failing ones

    regressed = akis("eval", "regression", "--flow", "echo@2", "--baseline", "1", "--min-pass", "0.5",
                     "--tolerance", "0.05", "--tenant", "2")
    assert regressed.returncode == 1
    assert "v2 against v1: 5 changed, 5 regressed" in " ".join(regressed.stdout.split())
    assert "scorer 'exact' fell from 1.000 (v1) to 0.900" in regressed.stderr

    tolerated = akis("eval", "regression", "--flow", "echo@2", "--baseline", "1", "--min-pass", "0.85",
                     "--tolerance", "0.2", "--json", "--tenant", "2")
    assert tolerated.returncode == 0, tolerated.stderr
    report = json.loads(tolerated.stdout)
    assert report["passed"] is True and report["reasons"] == [] and report["candidate"] == 2
    unexpected = [c for c in report["cases"] if c["case_id"] not in BROKEN]
    assert sorted(c["case_id"] for c in report["cases"]) == BROKEN, f"changed beyond the broken five: {unexpected}"
    assert [v["pass_rate"] for v in report["versions"]] == [1.0, 0.9]


def test_what_cannot_run_exits_2_with_one_error_line(akis, tmp_path):
    missing = akis("eval", "nope", "--flow", "echo", "--tenant", "2")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: dataset 'nope' not found"
    other_tenant = akis("eval", "cases.jsonl", "--flow", "echo", "--tenant", "3")
    assert other_tenant.returncode == 2 and other_tenant.stderr.strip() == "error: flow 'echo' not found"
    (tmp_path / "bad.jsonl").write_text('{"message": "ok"}\n{"expected": "x"}\n', encoding="utf-8")
    bad = akis("eval", "bad.jsonl", "--flow", "echo", "--tenant", "2")
    assert bad.returncode == 2 and "line 2: message: Field required" in bad.stderr
    assert "Traceback" not in bad.stderr + missing.stderr
    flow = akis("eval", "regression", "--flow", "echo@two", "--tenant", "2")
    assert flow.returncode == 2 and "use FLOW or FLOW@VERSION" in flow.stderr
    version = akis("eval", "cases.jsonl", "--flow", "echo@9", "--tenant", "2")
    assert version.returncode == 2 and "not found" in version.stderr
    broken = {**echo_flow("echo"), "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "nowhere"}]}
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    stored = subprocess.run([sys.executable, "-c", "from storage.repos import flows; from storage.db import init_db; "
                             f"init_db('sqlite:///{tmp_path / 'ci.db'}').call(flows.save_flow, '2', "
                             f"__import__('json').load(open('{tmp_path / 'broken.json'}')), 'broken')"],
                            cwd=tmp_path, env=server_env({}), capture_output=True, text=True, timeout=60)
    assert stored.returncode == 0, stored.stderr  # stored past the checks, as an old version may be
    problems = akis("eval", "regression", "--flow", "echo@3", "--tenant", "2")
    assert problems.returncode == 2 and "version 3 of flow 'echo' has 1 problem(s)" in problems.stderr
    assert "\n  - " in problems.stderr and "nowhere" in problems.stderr
