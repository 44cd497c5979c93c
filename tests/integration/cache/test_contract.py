"""The cache contract, run against every tier and tiered combination (see conftest)."""
from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from runtime.cache import CacheKeyError
from runtime.ports import CachePolicy

from .conftest import CONFIGS, MakeCache

SHARED = pytest.mark.parametrize("make_cache", [c for c in CONFIGS if c != "memory"], indirect=True)
WITH_REDIS = pytest.mark.parametrize("make_cache", [c for c in CONFIGS if "redis" in c], indirect=True)
LAYERED = pytest.mark.parametrize("make_cache", [c for c in CONFIGS if c.startswith("memory+")], indirect=True)


def policy(ttl: int = 60, tags: tuple[str, ...] = (), **fields: Any) -> CachePolicy:
    return CachePolicy(ttl=ttl, key_fields=fields or {"query": "Transpalet arıyorum"}, tags=tags)


class Upstream:
    """A node's work, counted; returns something that names the caller."""

    def __init__(self, value: dict[str, Any] | None = None, delay: float = 0.0) -> None:
        self.calls = 0
        self.value = value or {"products": ["TP-2500"]}
        self.delay = delay

    def __call__(self, **extra: Any) -> Any:
        async def compute() -> dict[str, Any]:
            self.calls += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            return {**self.value, **extra}

        return compute


async def test_miss_then_hit(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    assert await cache.get_or_compute(2, "product_search", policy(), upstream()) == ({"products": ["TP-2500"]}, False)
    assert await cache.get_or_compute(2, "product_search", policy(), upstream()) == ({"products": ["TP-2500"]}, True)
    assert upstream.calls == 1


async def test_get_set_delete(make_cache: MakeCache) -> None:
    cache = make_cache()
    fields = {"query": "forklift", "limit": 3}
    assert await cache.get(2, "product_search", fields) is None
    assert await cache.set(2, "product_search", fields, {"n": 1}, ttl=60)
    assert await cache.get(2, "product_search", fields) == {"n": 1}
    assert await cache.delete(2, "product_search", fields)
    assert await cache.get(2, "product_search", fields) is None


async def test_tenants_never_share_entries(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    await cache.get_or_compute(2, "product_search", policy(), upstream(tenant=2))
    value, hit = await cache.get_or_compute(5, "product_search", policy(), upstream(tenant=5))
    assert (value["tenant"], hit) == (5, False)
    assert (await cache.get_or_compute(2, "product_search", policy(), upstream()))[0]["tenant"] == 2


async def test_tag_invalidation_is_per_tenant_and_per_tag(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    products, categories = policy(tags=("products",)), policy(tags=("categories",), text="x")
    for tenant in (2, 5):
        await cache.get_or_compute(tenant, "product_search", products, upstream())
        await cache.get_or_compute(tenant, "category_detection", categories, upstream())
    assert await cache.invalidate(2, ["products"])
    assert not (await cache.get_or_compute(2, "product_search", products, upstream()))[1]
    assert (await cache.get_or_compute(2, "category_detection", categories, upstream()))[1]
    assert (await cache.get_or_compute(5, "product_search", products, upstream()))[1]
    assert (await cache.get_or_compute(2, "product_search", products, upstream()))[1]  # fresh again
    assert upstream.calls == 5


@SHARED
async def test_invalidation_reaches_other_processes(make_cache: MakeCache) -> None:
    first, second, upstream = make_cache(), make_cache(), Upstream()
    p = policy(tags=("products",))
    await first.get_or_compute(2, "product_search", p, upstream())
    assert (await second.get_or_compute(2, "product_search", p, upstream()))[1]  # shared tier
    assert await first.invalidate(2, ["products"])
    assert not (await second.get_or_compute(2, "product_search", p, upstream()))[1]  # its memory tier too
    assert (await first.get_or_compute(2, "product_search", p, upstream()))[1]


async def test_ttl_expiry(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    await cache.get_or_compute(2, "product_search", policy(ttl=1), upstream())
    assert (await cache.get_or_compute(2, "product_search", policy(ttl=1), upstream()))[1]
    await asyncio.sleep(1.1)
    assert not (await cache.get_or_compute(2, "product_search", policy(ttl=1), upstream()))[1]


async def test_large_values_round_trip(make_cache: MakeCache) -> None:
    cache = make_cache()
    large = {"blob": os.urandom(200_000).hex(), "rows": [{"i": i, "name": f"ürün {i}"} for i in range(2000)]}
    await cache.get_or_compute(2, "product_search", policy(), Upstream(large)())
    assert await cache.get_or_compute(2, "product_search", policy(), Upstream()()) == (large, True)


async def test_a_value_too_large_for_a_tier_is_not_an_outage(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream({"blob": os.urandom(1_500_000).hex()})
    value, hit = await cache.get_or_compute(2, "product_search", policy(), upstream())
    assert not hit and len(value["blob"]) == 3_000_000
    await cache.get_or_compute(2, "product_search", policy(), upstream())
    assert upstream.calls == (2 if make_cache.tiers == "memcached" else 1)  # type: ignore[attr-defined]
    assert all(state["outages"] == 0 for state in cache.health().values())


async def test_unicode_fields_and_binary_unsafe_values(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    odd = policy(query="a b\x00\r\n\t ş 🚜 \u2028", category=None, filters={"ä": [1, 2.5, True]})
    await cache.get_or_compute("tenant-2.eu", "product_search", odd, upstream())
    assert (await cache.get_or_compute("tenant-2.eu", "product_search", odd, upstream()))[1]
    other = policy(query="a b\x00\r\n\t ş 🚜 \u2029", category=None, filters={"ä": [1, 2.5, True]})
    assert not (await cache.get_or_compute("tenant-2.eu", "product_search", other, upstream()))[1]


@pytest.mark.parametrize("tenant", ["2_x", "a b", "nul\x00", "ünï", ""])
async def test_ids_that_would_make_keys_ambiguous_are_refused(make_cache: MakeCache, tenant: str) -> None:
    cache = make_cache()
    with pytest.raises(CacheKeyError, match="tenant id"):
        await cache.get_or_compute(tenant, "product_search", policy(), Upstream()())
    with pytest.raises(CacheKeyError, match="node type"):
        await cache.get_or_compute(2, "product search", policy(), Upstream()())


async def test_stats_in_the_seeds_shape(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    for _ in range(4):
        await cache.get_or_compute(2, "product_search", policy(), upstream())
    await cache.get_or_compute(5, "product_search", policy(), upstream())
    key = cache.key(2, "product_search", {"query": "Transpalet arıyorum"})
    stats = await cache.stats(2)
    assert stats["keys"] == {key: {"total": 4, "hits": 3, "rate": 75.0}}
    assert stats["node_types"] == {"2": {"product_search": {"total": 4, "hits": 3, "rate": 75.0}}}
    everyone = await cache.stats()
    assert everyone["node_types"]["5"]["product_search"] == {"total": 1, "hits": 0, "rate": 0.0}
    assert everyone["outages"] == {}
    assert stats["source"] == ("redis" if "redis" in make_cache.tiers else "memory")  # type: ignore[attr-defined]


@WITH_REDIS
async def test_stats_add_up_across_processes(make_cache: MakeCache) -> None:
    first, second, upstream = make_cache(), make_cache(), Upstream()
    await first.get_or_compute(2, "product_search", policy(), upstream())
    await second.get_or_compute(2, "product_search", policy(), upstream())
    await second.get_or_compute(2, "product_search", policy(), upstream())
    await second.recorder.flush()
    stats = await first.stats(2)
    assert stats["node_types"]["2"]["product_search"] == {"total": 3, "hits": 2, "rate": 66.67}


async def test_ai_response_is_never_cached(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream({"answer": "..."})
    for _ in range(3):
        assert not (await cache.get_or_compute(2, "ai_response", policy(), upstream()))[1]
    assert upstream.calls == 3
    assert not await cache.set(2, "ai_response", {"query": "Transpalet arıyorum"}, {"answer": "x"})
    assert await cache.get(2, "ai_response", {"query": "Transpalet arıyorum"}) is None


async def test_stampede_makes_one_upstream_call(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream(delay=0.05)
    results = await asyncio.gather(
        *(cache.get_or_compute(2, "product_search", policy(), upstream()) for _ in range(1000))
    )
    assert upstream.calls == 1
    assert all(value == {"products": ["TP-2500"]} for value, _ in results)
    assert sum(1 for _, hit in results if not hit) == 1


@SHARED
async def test_stampede_across_processes_makes_one_upstream_call(make_cache: MakeCache) -> None:
    caches, upstream = [make_cache() for _ in range(3)], Upstream(delay=0.2)
    results = await asyncio.gather(
        *(c.get_or_compute(2, "product_search", policy(), upstream()) for c in caches for _ in range(20))
    )
    assert upstream.calls == 1
    assert {str(v) for v, _ in results} == {str({"products": ["TP-2500"]})}


async def test_two_tenants_sending_identical_inputs_concurrently(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream(delay=0.01)
    p = policy(tags=("products",))

    async def ask(tenant: int) -> tuple[int, dict[str, Any]]:
        value, _ = await cache.get_or_compute(tenant, "product_search", p, upstream(tenant=tenant))
        return tenant, value

    for round_ in range(5):
        results = await asyncio.gather(*(ask(t) for t in (2, 5) * 50))
        assert all(value["tenant"] == tenant for tenant, value in results)
        if round_ == 2:
            await cache.invalidate(2, ["products"])
    assert upstream.calls == 3  # tenant 2 twice (before and after invalidation), tenant 5 once


@LAYERED
async def test_a_hit_in_a_slower_tier_fills_the_faster_ones(make_cache: MakeCache) -> None:
    writer, reader, upstream = make_cache(), make_cache(), Upstream()
    await writer.get_or_compute(2, "product_search", policy(), upstream())
    key = reader.key(2, "product_search", {"query": "Transpalet arıyorum"})
    assert reader.tiers[0].get_now(key) is None  # type: ignore[attr-defined]
    assert (await reader.get_or_compute(2, "product_search", policy(), upstream()))[1]
    assert reader.tiers[0].get_now(key) is not None  # type: ignore[attr-defined]


async def test_compute_errors_propagate_and_nothing_is_stored(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()

    async def failing() -> dict[str, Any]:
        raise RuntimeError("catalogue down")

    with pytest.raises(RuntimeError, match="catalogue down"):
        await cache.get_or_compute(2, "product_search", policy(), failing)
    assert not (await cache.get_or_compute(2, "product_search", policy(), upstream()))[1]


async def test_outputs_json_cannot_hold_are_returned_but_not_cached(make_cache: MakeCache) -> None:
    import datetime

    cache = make_cache()
    when = datetime.datetime(2024, 1, 1)

    async def compute() -> dict[str, Any]:
        return {"when": when}

    assert await cache.get_or_compute(2, "product_search", policy(), compute) == ({"when": when}, False)
    assert not (await cache.get_or_compute(2, "product_search", policy(), compute))[1]


async def test_a_cached_output_cannot_be_changed_by_a_caller(make_cache: MakeCache) -> None:
    cache, upstream = make_cache(), Upstream()
    await cache.get_or_compute(2, "product_search", policy(), upstream())
    value, _ = await cache.get_or_compute(2, "product_search", policy(), upstream())
    value["products"].append("tampered")
    assert (await cache.get_or_compute(2, "product_search", policy(), upstream()))[0] == {"products": ["TP-2500"]}
