"""bench/bench_storage.py keeps working at its tiny size (the numbers' shape, never their size)."""
from __future__ import annotations

from tests.bench_runner import run_bench


def test_bench_storage_tiny(postgres_url: str) -> None:
    data = run_bench("bench_storage", "--postgres", postgres_url, timeout=120)
    assert data["benchmark"] == "storage" and data["tiny"] is True and data["postgres"] is True
    assert set(data["results"]) == {"sqlite", "postgres"}
    for name, result in data["results"].items():
        for key in ("one_by_one_rows_s", "batched_rows_s", "sink_rows_s", "record_us", "batched_vs_one_by_one",
                    "indexed_ms", "unindexed_ms", "index_speedup"):
            assert result[key] > 0, (name, key, result)
        assert result["rows"] == 10_000 and 0 < result["rows_aggregated"] < result["rows"], (name, result)
