"""bench/bench_storage.py keeps working at its tiny size (the numbers' shape, never their size)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_bench_storage_tiny(postgres_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_storage.py"), "--tiny", "--postgres", postgres_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 1, proc.stdout
    data = json.loads(lines[-1])
    assert data["benchmark"] == "storage" and data["tiny"] is True and data["postgres"] is True
    assert set(data["results"]) == {"sqlite", "postgres"}
    for name, result in data["results"].items():
        for key in ("one_by_one_rows_s", "batched_rows_s", "sink_rows_s", "record_us", "batched_vs_one_by_one",
                    "indexed_ms", "unindexed_ms", "index_speedup"):
            assert result[key] > 0, (name, key, result)
        assert result["rows"] == 10_000 and 0 < result["rows_aggregated"] < result["rows"], (name, result)
