"""The cache benchmark keeps working: a tiny run completes and prints its JSON line."""
from __future__ import annotations

from tests.bench_runner import run_bench


def test_bench_cache_tiny(redis_url: str, memcached_address: str) -> None:
    result = run_bench("bench_cache", "--redis", redis_url, "--memcached", memcached_address)
    assert result["bench"] == "cache" and result["tiny"] is True
    assert {"hit", "hit_tagged", "raw", "ok"} <= set(result["memory"])
    for tier in ("redis", "memcached"):
        assert {"hit", "hit_tagged", "raw", "ratio", "ratio_tagged", "target_ratio", "ok"} <= set(result[tier])
    assert {"cold_ms", "warm_ms", "saved_ms", "speedup"} <= set(result["seed"])
    assert result["seed"]["warm_hits"] == 2  # category and product search come from the cache
