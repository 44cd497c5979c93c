"""``build_cache(settings)``: tiers in the configured order, plus where versions, counters and
locks live. Redis, when ``AKIS_REDIS_URL`` is set, holds all three even if it is not a data tier,
so several processes share invalidations and hit rates; else Memcached; else this process.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..redis_clients import request_timeouts
from ..settings import AkisSettings, get_settings
from .keys import CacheKeyError, check_prefix
from .stats import CacheStatsRecorder
from .tags import TagVersions
from .tiered import NEVER_CACHE, TieredCache
from .tiers.base import CacheTier
from .tiers.memcached_tier import MemcachedTier
from .tiers.memory_tier import MemoryTier
from .tiers.redis_tier import RedisTier

KNOWN_TIERS = ("memory", "redis", "memcached")


class CacheConfigError(ValueError):
    """The cache settings name something that cannot be built; the message says what to set."""


def build_cache(
    settings: AkisSettings | None = None,
    *,
    never_cache: Iterable[str] = NEVER_CACHE,
    retry_after_s: float | None = None,
    memory_entries: int = 10_000,
    memory_bytes: int = 64 * 1024 * 1024,
) -> TieredCache:
    settings = settings or get_settings()
    names = settings.tiers or ["memory"]
    unknown = [n for n in names if n not in KNOWN_TIERS]
    if unknown:
        raise CacheConfigError(
            f"AKIS_CACHE_TIERS names unknown tier(s) {', '.join(unknown)}: use memory, redis, memcached"
        )
    if len(set(names)) != len(names):
        raise CacheConfigError(f"AKIS_CACHE_TIERS lists a tier twice: {settings.cache_tiers!r}")
    if "redis" in names and not settings.redis_url:
        raise CacheConfigError("AKIS_CACHE_TIERS includes redis but AKIS_REDIS_URL is not set")
    if "memcached" in names and not settings.memcached:
        raise CacheConfigError("AKIS_CACHE_TIERS includes memcached but AKIS_MEMCACHED (host:port) is not set")
    try:
        prefix = check_prefix(settings.cache_prefix)
    except CacheKeyError as exc:
        raise CacheConfigError(f"AKIS_CACHE_PREFIX: {exc}") from None
    timeout = settings.cache_timeout_s
    if retry_after_s is None:
        retry_after_s = settings.redis_retry_after_s
    recorder = CacheStatsRecorder(prefix=prefix)

    redis_tier = None
    if settings.redis_url:
        redis_tier = RedisTier(settings.redis_url, timeout, retry_after_s, recorder.count_outage,
                               timeouts=request_timeouts(settings))
    memcached_tier = None
    if "memcached" in names:
        try:
            memcached_tier = MemcachedTier(settings.memcached, timeout, retry_after_s, recorder.count_outage)
        except ValueError as exc:
            raise CacheConfigError(str(exc)) from None

    tiers: list[CacheTier] = []
    for name in names:
        tier: CacheTier | None
        if name == "memory":
            tier = MemoryTier(memory_entries, memory_bytes)
        else:
            tier = redis_tier if name == "redis" else memcached_tier
        if tier is None:  # not reached: redis and memcached were checked to have their settings above
            raise CacheConfigError(f"AKIS_CACHE_TIERS includes {name} but it is not configured")
        tiers.append(tier)

    shared = redis_tier or memcached_tier
    recorder.attach(redis_tier)
    return TieredCache(
        tiers,
        versions=TagVersions(shared or MemoryTier(max_entries=None, max_bytes=None), prefix),
        stats=recorder,
        prefix=prefix,
        never_cache=never_cache,
        lock_tier=shared,
        extra=[redis_tier] if redis_tier is not None and "redis" not in names else [],
    )
