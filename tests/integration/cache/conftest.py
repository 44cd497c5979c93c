"""One fixture builds the cache in every configuration the contract must hold for: each tier
alone and the tiered combinations, against the real servers on loopback. Caches made by one
test share a key prefix of their own, so two of them behave like two processes."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runtime.cache import TieredCache, build_cache
from runtime.settings import AkisSettings
from tests.conftest import MEMCACHED_HOST, MEMCACHED_PORT, REDIS_HOST, REDIS_PORT, port_open, require
from tests.redis_keys import delete_prefix as delete_keys

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
MEMCACHED = f"{MEMCACHED_HOST}:{MEMCACHED_PORT}"
CONFIGS = {
    "memory": "memory",
    "redis": "redis",
    "memcached": "memcached",
    "memory+redis": "memory,redis",
    "memory+redis+memcached": "memory,redis,memcached",
}
MakeCache = Callable[..., TieredCache]


async def delete_prefix(prefix: str) -> None:
    await delete_keys(REDIS_URL, prefix)


def settings_for(tiers: str, prefix: str, **extra: Any) -> AkisSettings:
    values: dict[str, Any] = {
        "cache_tiers": tiers,
        "redis_url": REDIS_URL if "redis" in tiers else "",
        "memcached": MEMCACHED if "memcached" in tiers else "",
        "cache_prefix": prefix,
        "cache_timeout_s": 2.0,  # generous: these tests are about meaning, not outages
    }
    values.update(extra)
    return AkisSettings(**values)


@pytest.fixture
def cache_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=list(CONFIGS))
async def make_cache(request: pytest.FixtureRequest, cache_prefix: str) -> AsyncIterator[MakeCache]:
    tiers = CONFIGS[request.param]
    if "redis" in tiers:
        require(port_open(REDIS_HOST, REDIS_PORT), f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    if "memcached" in tiers:
        require(port_open(MEMCACHED_HOST, MEMCACHED_PORT), f"Memcached at {MEMCACHED}")
    made: list[TieredCache] = []

    def factory(**options: Any) -> TieredCache:
        cache = build_cache(settings_for(tiers, cache_prefix), **options)
        made.append(cache)
        return cache

    factory.tiers = tiers  # type: ignore[attr-defined]
    yield factory
    for cache in made:
        await cache.close()
    if "redis" in tiers:
        await delete_prefix(cache_prefix)
