"""Cache tiers: in-process, Redis, Memcached (the last two import their clients lazily)."""
from .base import CacheTier
from .memory_tier import MemoryTier

__all__ = ["CacheTier", "MemoryTier"]
