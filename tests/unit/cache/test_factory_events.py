"""Building the cache from settings, and the event -> tags mapping."""
from __future__ import annotations

import pytest

from runtime.cache import DEFAULT_EVENTS, CacheConfigError, CacheEvents, CacheKeyError, build_cache
from runtime.cache.tiers.memory_tier import MemoryTier
from runtime.flow.model import FlowDocument
from runtime.ports import CachePolicy
from runtime.settings import AkisSettings


def settings(**values: str) -> AkisSettings:
    base = {"cache_tiers": "memory", "redis_url": "", "memcached": "", "cache_prefix": ""}
    return AkisSettings(**{**base, **values})


async def test_the_default_is_in_process_and_needs_no_server() -> None:
    cache = build_cache(settings())
    assert cache.tier_names == ["memory"] and isinstance(cache.versions.store, MemoryTier)
    assert cache.lock_tier is None and (await cache.stats())["source"] == "memory"
    await cache.close()


async def test_redis_url_alone_shares_versions_and_counters() -> None:
    cache = build_cache(settings(redis_url="redis://127.0.0.1:1/0"))  # never contacted here
    assert cache.tier_names == ["memory"] and cache.versions.store.name == "redis"
    assert cache.recorder.source == "redis" and "redis" in cache.health()
    await cache.close()


def test_memcached_only_keeps_versions_in_memcached() -> None:
    cache = build_cache(settings(cache_tiers="memcached", memcached="127.0.0.1:1"))
    assert cache.versions.store is cache.tiers[0] and cache.lock_tier is cache.tiers[0]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cache_tiers": "memory,disk"}, "unknown tier(s) disk"),
        ({"cache_tiers": "memory,memory"}, "lists a tier twice"),
        ({"cache_tiers": "redis"}, "AKIS_REDIS_URL is not set"),
        ({"cache_tiers": "memcached"}, "AKIS_MEMCACHED"),
        ({"cache_tiers": "memcached", "memcached": "localhost"}, "host:port"),
        ({"cache_prefix": "bad prefix"}, "AKIS_CACHE_PREFIX"),
    ],
)
def test_bad_settings_are_named(values: dict[str, str], message: str) -> None:
    with pytest.raises(CacheConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_cache(settings(**values))


async def test_never_cache_is_configurable_and_ai_response_is_in_it_by_default() -> None:
    cache = build_cache(settings(), never_cache={"ai_response", "http_request"})
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    p = CachePolicy(ttl=60, key_fields={})
    for node_type in ("ai_response", "http_request"):
        assert [await cache.get_or_compute(2, node_type, p, compute) for _ in range(2)][1][1] is False
    assert calls == 4
    await cache.close()


async def test_events_map_to_tags_by_default_and_per_tenant_flow() -> None:
    cache = build_cache(settings())
    events = CacheEvents(cache)
    assert events.defaults == DEFAULT_EVENTS
    flow = FlowDocument.model_validate(
        {
            "flow_id": "f",
            "settings": {"cache_events": {"product.updated": ["products", "prices"], "stock.changed": ["stock"]}},
        }
    )
    events.add_flows("2", [flow])
    assert events.tags_for("2", "product.updated") == ["products", "prices"]
    assert events.tags_for("2", "stock.changed") == ["stock"] and events.tags_for("2", "nothing") == []
    # another tenant sees the defaults only, never tenant 2's flow mapping
    assert events.tags_for("5", "product.updated") == ["products"] and events.tags_for("5", "stock.changed") == []
    p = CachePolicy(ttl=60, key_fields={"q": 1}, tags=("prices",))

    async def compute() -> dict[str, int]:
        return {"price": 329}

    await cache.get_or_compute(2, "product_search", p, compute)
    assert await events.emit(2, "product.updated") == ["products", "prices"]
    assert not (await cache.get_or_compute(2, "product_search", p, compute))[1]
    with pytest.raises(CacheKeyError):
        events.set_flow("2", "g", {"x": ["not a tag"]})
    assert events.tags_for("2", "x") == []
    events.set_flow("2", "f", {"stock.changed": ["stock"]})  # saved again: the old mapping is replaced
    assert events.tags_for("2", "product.updated") == ["products"]
    events.drop_flow("2", "f")
    assert events.tags_for("2", "stock.changed") == [] and events.events_for("2") == sorted(DEFAULT_EVENTS)
    assert CacheEvents(cache, {}).defaults == {}
    await cache.close()
