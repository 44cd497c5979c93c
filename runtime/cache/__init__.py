"""The tenant-aware multi-tier cache: see docs/cache.md."""
from .events import DEFAULT_EVENTS, CacheEvents
from .factory import CacheConfigError, build_cache
from .keys import CacheKeyError, build_key, parse_key
from .tiered import NEVER_CACHE, TieredCache
from .warmup import WarmupReport, WarmupScheduler, warm_up

__all__ = [
    "DEFAULT_EVENTS",
    "NEVER_CACHE",
    "CacheConfigError",
    "CacheEvents",
    "CacheKeyError",
    "TieredCache",
    "WarmupReport",
    "WarmupScheduler",
    "build_cache",
    "build_key",
    "parse_key",
    "warm_up",
]
