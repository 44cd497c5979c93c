"""bench/bench_canvas.py keeps working: it runs at its tiny size and ends with one JSON line.

Only the shape of the numbers is checked, never their size (timings belong to the benchmark).
"""
from __future__ import annotations

import pytest

from tests.bench_runner import run_bench


@pytest.mark.browser
def test_bench_canvas_tiny(chromium_path: str) -> None:
    data = run_bench("bench_canvas", timeout=110, env={"AKIS_CHROMIUM": chromium_path})
    assert data["benchmark"] == "canvas" and data["tiny"] is True and data["nodes"] == 20
    for key in ("ready_ms", "ready_baseline_ms", "ready_ratio", "update_ms_median", "roundtrip_ms_median",
                "update_ratio", "resend_ms_median", "drag_fps", "idle_fps", "drag_fps_ratio"):
        assert isinstance(data[key], (int, float)) and data[key] > 0, f"{key} = {data.get(key)!r}"
    assert isinstance(data["ready_meets_target"], bool)
