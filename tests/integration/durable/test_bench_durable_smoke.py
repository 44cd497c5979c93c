"""bench/bench_durable.py keeps working at its tiny size (the shape of its numbers only)."""
from __future__ import annotations

from tests.bench_runner import run_bench


def test_bench_durable_tiny(redis_url: str) -> None:
    data = run_bench("bench_durable", "--redis", redis_url, timeout=240)
    assert data["benchmark"] == "durable" and data["tiny"] is True
    for key in ("inline_ttfc_p50_ms", "inline_ttfc_p99_ms", "queue_ttfc_p50_ms", "queue_ttfc_p99_ms",
                "one_worker_runs_per_s", "two_workers_runs_per_s", "inline_runs_per_s", "two_vs_one_workers",
                "web_cpu_ms_per_relayed_run", "redis_round_trips_per_run", "fair_b_start_alone_ms",
                "fair_b_start_behind_burst_ms"):
        assert isinstance(data[key], (int, float)) and data[key] > 0, (key, data[key])
    assert data["added_ttfc_p50_ms"] == data["queue_ttfc_p50_ms"] - data["inline_ttfc_p50_ms"]
