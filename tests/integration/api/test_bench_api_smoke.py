"""bench/bench_api.py keeps working at its tiny size (the numbers' shape only, never size)."""
from __future__ import annotations

import json
import subprocess
import sys

from .harness import ROOT, server_env


def test_bench_api_tiny(tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_api.py"), "--tiny"], cwd=tmp_path,
                          env=server_env({}), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 1, proc.stdout
    data = json.loads(lines[-1])
    assert data["bench"] == "api" and data["tiny"] is True
    assert data["http_failures"] == 0
    assert data["sse_chunks"] == 200
    for key in ("http_rps", "http_p50_ms", "http_p99_ms", "engine_rps", "sse_chunks_per_s", "engine_chunks_per_s",
                "http_vs_engine_rps", "sse_vs_engine_chunks"):
        assert data[key] > 0, key
    assert data["http_p50_ms"] <= data["http_p99_ms"]
