"""Tag invalidation by version counters, one per (tenant, tag).

An entry stores the versions of its tags at the time it was computed; a read whose stored
versions differ from the current ones is a miss. Invalidating a tag bumps its counter, which
is one write however many entries carry the tag, and is seen at once by every tier and every
process sharing the counter's store (Redis, else Memcached, else this process).

A missing counter (never set, or evicted by the server) is created with a fresh value derived
from the clock, never a small number, so an old entry can never match it by accident: an
eviction costs misses, never a stale hit.
"""
from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import cast

from .keys import tag_version_key
from .tiers.base import CacheTier

Versions = dict[str, int | None]  # tag -> current version, None when the counter is missing


def fresh_version() -> int:
    return time.time_ns() // 1000 * 1000 + random.randrange(1000)


def parse_versions(tags: Sequence[str], raws: Sequence[bytes | None]) -> Versions:
    out: Versions = {}
    for tag, raw in zip(tags, raws, strict=False):  # a short reply leaves the rest missing: a miss
        try:
            out[tag] = None if raw is None else int(raw)
        except ValueError:
            out[tag] = None
    return out


def is_fresh(stored: dict[str, int], current: Versions) -> bool:
    """True when every tag the entry was written with still has the same version."""
    for tag, version in stored.items():
        now = current.get(tag)
        if now is None or now != version:
            return False
    return True


class TagVersions:
    def __init__(self, store: CacheTier, prefix: str = "") -> None:
        self.store = store
        self.prefix = prefix

    def keys(self, tenant: str, tags: Sequence[str]) -> list[str]:
        return [tag_version_key(tenant, tag, self.prefix) for tag in tags]

    @property
    def local(self) -> bool:
        """Versions kept in this process: readable without awaiting."""
        return self.store.local

    def current_now(self, tenant: str, tags: Sequence[str]) -> Versions:
        """:meth:`current` for a local store, without a round trip through the event loop."""
        get_now = self.store.get_now
        return parse_versions(tags, [get_now(k) for k in self.keys(tenant, tags)])

    async def current(self, tenant: str, tags: Sequence[str]) -> Versions | None:
        """Current versions; ``None`` when the store is unavailable (then nothing is fresh)."""
        if not tags:
            return {}
        raws = await self.store.get_many(self.keys(tenant, tags))
        return None if raws is None else parse_versions(tags, raws)

    async def ensure(self, tenant: str, tags: Sequence[str], known: Versions | None) -> dict[str, int] | None:
        """Versions to write an entry with, creating missing counters; ``None`` if unavailable."""
        if not tags:
            return {}
        if known is None or any(t not in known for t in tags):
            known = await self.current(tenant, tags)
            if known is None:
                return None
        missing = [t for t in tags if known.get(t) is None]
        if not missing:
            return cast("dict[str, int]", {t: known[t] for t in tags})  # none is missing: none is None
        for tag in missing:
            key = tag_version_key(tenant, tag, self.prefix)
            if await self.store.add(key, str(fresh_version()).encode(), None) is None:
                return None
        again = await self.current(tenant, missing)
        if again is None or any(v is None for v in again.values()):
            return None
        merged = {**known, **again}
        return cast("dict[str, int]", {t: merged[t] for t in tags})  # each is known or just read, none None

    async def bump(self, tenant: str, tags: Sequence[str]) -> bool:
        """Invalidate: every entry written with an older version of these tags now misses."""
        for tag in tags:
            key = tag_version_key(tenant, tag, self.prefix)
            if await self.store.incr(key) is not None:
                continue
            # Missing: creating it fresh already invalidates; if another process created it
            # meanwhile, bump that one instead.
            created = await self.store.add(key, str(fresh_version()).encode(), None)
            if created is None:
                return False
            if not created and await self.store.incr(key) is None:
                return False
        return True
