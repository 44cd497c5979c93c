"""``akis run --flows``: the flow files a sub-flow may call, offline, through the real command."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .test_cli import akis


def echo(flow_id: str) -> dict[str, Any]:
    return {"akis": 1, "flow_id": flow_id,
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "t", "type": "template", "config": {"template": "inner: {{ user_message }}",
                                                                 "output_key": "answer"}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}]}


def outer() -> dict[str, Any]:
    return {"akis": 1, "flow_id": "outer",
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "sub", "type": "subflow", "config": {"flow_id": "inner"}},
                      {"id": "out", "type": "output", "config": {"fields": {"got": "{{ subflow.answer }}"}}}],
            "edges": [{"source": "in", "target": "sub"}, {"source": "sub", "target": "out"}]}


def test_run_calls_a_flow_given_with_flows(tmp_path: Path) -> None:
    folder = tmp_path / "callable"
    folder.mkdir()
    (folder / "inner.json").write_text(json.dumps(echo("inner")))
    (tmp_path / "outer.json").write_text(json.dumps(outer()))
    done = akis("run", str(tmp_path / "outer.json"), "-m", "hi", "--flows", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["status"] == "succeeded" and events[-1]["output"] == {"got": "inner: hi"}
    assert [e["step"] for e in events if e["event"] == "node.step"] == ["in", "t", "out"]


def test_without_flows_the_subflow_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "outer.json").write_text(json.dumps(outer()))
    done = akis("run", str(tmp_path / "outer.json"), "-m", "hi")
    assert done.returncode == 1
    assert "flow 'inner' does not exist for this tenant" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
