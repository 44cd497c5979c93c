"""bench/bench_api.py keeps working at its tiny size (the numbers' shape only, never size)."""
from __future__ import annotations

from tests.bench_runner import run_bench

from .harness import server_env


def test_bench_api_tiny(tmp_path) -> None:
    data = run_bench("bench_api", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["bench"] == "api" and data["tiny"] is True
    assert data["http_failures"] == 0
    assert data["sse_chunks"] == 200
    for key in ("http_rps", "http_p50_ms", "http_p99_ms", "engine_rps", "sse_chunks_per_s", "engine_chunks_per_s",
                "http_vs_engine_rps", "sse_vs_engine_chunks"):
        assert data[key] > 0, key
    assert data["http_p50_ms"] <= data["http_p99_ms"]
