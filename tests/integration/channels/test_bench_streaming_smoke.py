"""bench/bench_streaming.py keeps working at its tiny size (numbers' shape only, never size)."""
from __future__ import annotations

from tests.bench_runner import run_bench

PATHS = {"asyncio.Queue (direct)", "channel hub (in-process)", "channel hub (Redis)"}


def test_bench_streaming_tiny(redis_url: str) -> None:
    data = run_bench("bench_streaming", "--redis", redis_url, timeout=90)
    assert data["benchmark"] == "streaming" and data["tiny"] is True and data["redis"] is True
    assert set(data["latency"]) == PATHS
    for name, row in data["latency"].items():
        assert row["n"] == data["chunks"] * data["rounds"], name
        assert 0 < row["p50_us"] <= row["p99_us"], (name, row)
        assert data["ratio_p50"][name] > 0
    assert data["ratio_p50"]["asyncio.Queue (direct)"] == 1.0
    seed = data["seed"]
    assert seed["bound_ms"] > 0
    assert set(seed["first_chunk_ms"]) == {"Engine.stream (no hub)", "channel hub (in-process)", "channel hub (Redis)"}
    assert all(ms > 0 for ms in seed["first_chunk_ms"].values())
