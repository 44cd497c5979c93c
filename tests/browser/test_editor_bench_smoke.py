"""bench/bench_editor.py keeps working: it runs at its tiny size and ends with one JSON line.

Only the shape of the numbers is checked, never their size (timings belong to the benchmark).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.browser
def test_bench_editor_tiny(chromium_path: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["AKIS_CHROMIUM"] = chromium_path
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_editor.py"), "--tiny"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, f"bench_editor --tiny exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 3, f"no table before the JSON line:\n{proc.stdout}"
    data = json.loads(lines[-1])
    assert data["benchmark"] == "editor" and data["tiny"] is True and data["nodes"] == 20
    for key in ("ready_ms", "ready_bare_canvas_ms", "ready_ratio", "drag_fps", "idle_fps", "drag_fps_ratio",
                "edit_ms", "js_roundtrip_ms"):
        assert isinstance(data[key], (int, float)) and data[key] > 0, f"{key} = {data.get(key)!r}"
    assert isinstance(data["ready_meets_target"], bool)
