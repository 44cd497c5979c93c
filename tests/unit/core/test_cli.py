"""The akis CLI as a user runs it: a subprocess, exit codes, stdout and stderr."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def akis(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=full_env)


def test_validate_valid_flow():
    done = akis("validate", "examples/pallet_assistant.json")
    assert done.returncode == 0 and "valid" in done.stdout


def test_validate_invalid_flow_lists_every_problem_without_traceback(tmp_path: Path):
    data = json.loads((ROOT / "examples/seed_scenario.json").read_text())
    data["nodes"][1]["type"] = "teleporter"
    data["edges"].append({"source": "node_2", "target": "ghost"})
    data["parallel_groups"][0]["nodes"].append("node_5")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    done = akis("validate", str(bad))
    assert done.returncode == 1
    # nodes are named by their labels ('Context builder (50 ms)' is node_5); a missing node by its id
    assert "teleporter" in done.stderr and "ghost" in done.stderr and "'Context builder (50 ms)'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_validate_unreadable_and_broken_files(tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for path in (broken, tmp_path / "missing.json"):
        done = akis("validate", str(path))
        assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.strip()


def test_schema_prints_json_schema():
    done = akis("schema")
    assert done.returncode == 0 and json.loads(done.stdout)["title"] == "FlowDocument"


def test_run_streams_answer_then_table_and_totals():
    done = akis("run", "examples/pallet_assistant.json", "--message", "Transpalet arıyorum", "--tenant", "2")
    assert done.returncode == 0, done.stderr
    answer, _, table = done.stdout.partition("\n\nnode")
    assert "pallet jack" in answer.lower()
    for column in ("type", "start ms", "duration ms", "cache", "status"):
        assert column in table
    assert "first chunk" in done.stdout and "last chunk" in done.stdout and "result" in done.stdout
    assert "using the offline mock provider" in done.stderr


def test_run_json_prints_exactly_the_engine_events():
    done = akis("run", "examples/seed_scenario.json", "-m", "hi", "--json", "--input", "extra=[1,2]")
    assert done.returncode == 0
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "run.started" and any(e["event"] == "run.finished" for e in events)
    assert [e["index"] for e in events] == list(range(len(events)))
    chunks = "".join(e["text"] for e in events if e["event"] == "message.chunk")
    finished = next(e for e in events if e["event"] == "run.finished")
    assert chunks == finished["output"]["answer"]


def test_run_failure_exits_nonzero_with_reason(tmp_path: Path):
    data = json.loads((ROOT / "examples/seed_scenario.json").read_text())
    data["nodes"][1]["timeout_s"] = 0.01
    flow = tmp_path / "slow.json"
    flow.write_text(json.dumps(data))
    done = akis("run", str(flow), "-m", "hi")
    assert done.returncode == 1 and "timed out" in done.stderr and "Traceback" not in done.stderr


def test_run_bad_input_is_a_clear_error():
    done = akis("run", "examples/seed_scenario.json", "-m", "hi", "--session", "a/b")
    assert done.returncode == 1 and "session id" in done.stderr and "Traceback" not in done.stderr


def test_run_record_stores_the_run_and_its_metrics(tmp_path: Path):
    env = {"AKIS_DATABASE_URL": f"sqlite:///{tmp_path}/akis.db"}
    done = subprocess.run([sys.executable, "-c", "import app; app.main()", "run", "examples/seed_scenario.json",
                           "-m", "hi", "--tenant", "2", "--record"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert "recorded run" in done.stderr
    metrics = subprocess.run([sys.executable, "-c", "import app; app.main()", "metrics", "--tenant", "2"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert metrics.returncode == 0 and "delay" in metrics.stdout and "ai_response" in metrics.stdout


def _trivial(**changes: object) -> dict:
    flow = {"akis": 1, "flow_id": "bad", "nodes": [
        {"id": "in", "type": "user_input"},
        {"id": "t", "type": "template", "config": {"template": "echo {{ user_message }}", "output_key": "answer"}},
        {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}]}
    flow.update(changes)
    return flow


def _with_config_value(raw: str) -> str:
    return json.dumps(_trivial()).replace('"output_key": "answer"', f'"output_key": "answer", "x": {raw}')


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "int-5000-digits": (_with_config_value("7" * 5000).encode(), "5000 digits"),
    "lone-surrogate": (json.dumps(_trivial(name="a\ud800b")).encode(), "lone surrogate \\ud800"),
    "duplicate-root-key": (b'{"akis": 1, "flow_id": "a", "flow_id": "b"}', "duplicate key 'flow_id'"),
    "duplicate-config-key": (_with_config_value('1, "x": 2').encode(), "duplicate key 'x'"),
    "nan": (_with_config_value("NaN").encode(), "NaN is not a JSON number"),
    "infinity": (_with_config_value("-Infinity").encode(), "-Infinity is not a JSON number"),
    "float-overflow": (_with_config_value("1e999").encode(), "too large for a float"),
    "nul-character": (json.dumps(_trivial(name="a\u0000b")).encode(), "NUL character"),
    "not-utf8": (b'{"akis": 1, "flow_id": "\xff\xfe"}', "cannot read"),
    "not-json": (b"{not json", "not valid JSON"),
    "not-an-object": (b"[1, 2, 3]", "must be a JSON object"),
    "too-deep": (b'{"akis": 1, "flow_id": "a", "ui": ' + b"[" * 40 + b"]" * 40 + b"}", "nests deeper"),
    "template-bomb": (
        json.dumps(_trivial()).replace("echo {{ user_message }}", "{{ (9**5000)|string }}").encode(),
        "'t'",
    ),
}


def test_validate_names_one_clear_problem_per_bad_file_without_traceback(tmp_path: Path):
    for name, (content, words) in BAD_FILES.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        done = akis("validate", str(path))
        lines = done.stderr.splitlines()
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, (name, done.stderr)
        assert lines[0] == f"{path}: 1 problem(s)" and len(lines) == 2, (name, done.stderr)
        assert lines[1].startswith("  - ") and words in lines[1], (name, lines[1])


def test_validate_lists_wiring_warnings_and_still_exits_0(tmp_path: Path):
    data = json.loads((ROOT / "examples/pallet_assistant.json").read_text())
    data["nodes"].append({"id": "lost", "type": "delay", "label": "Lost wait", "config": {"ms": 1}})
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps(data))
    done = akis("validate", str(loose))
    assert done.returncode == 0 and "valid (9 nodes, 9 edges), 2 warnings" in done.stdout
    assert "warning: node 'Lost wait' is not connected to the input 'User message'" in done.stderr
    assert "warning: node 'Lost wait' leads nowhere" in done.stderr
