"""The cache benchmark keeps working: a tiny run completes and prints its JSON line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_bench_cache_tiny(redis_url: str, memcached_address: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_cache.py"), "--tiny", "--redis", redis_url,
         "--memcached", memcached_address],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "cache" and result["tiny"] is True
    assert {"hit", "hit_tagged", "raw", "ok"} <= set(result["memory"])
    for tier in ("redis", "memcached"):
        assert {"hit", "hit_tagged", "raw", "ratio", "ratio_tagged", "target_ratio", "ok"} <= set(result[tier])
    assert {"cold_ms", "warm_ms", "saved_ms", "speedup"} <= set(result["seed"])
    assert result["seed"]["warm_hits"] == 2  # category and product search come from the cache
    assert "tier" in done.stdout and "seed scenario" in done.stdout
