"""The public cache: node-level get/set/delete, tag invalidation, stats, and the engine's
``get_or_compute`` (the ``NodeCache`` port), over an ordered list of tiers.

Read-through: tiers are asked in order; the first fresh entry answers and is copied into the
faster tiers before it. Writes go to every tier. Tag versions are read in the same round trip
as the entry when the version store is also the tier being read. Nothing here raises because a
tier is down: a down tier is skipped, and an entry whose tags cannot be checked is a miss.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from .. import tracing
from ..ports import CachePolicy
from .codec import Entry, NotCacheable, decode, decode_local, encode, encode_local
from .flight import SingleFlight
from .keys import build_key, check_tags, check_tenant, lock_key, parse_key
from .stats import CacheStatsRecorder
from .tags import TagVersions, Versions, is_fresh, parse_versions
from .tiers.base import CacheTier
from .tiers.memory_tier import MemoryTier

log = logging.getLogger("runtime.cache")

NEVER_CACHE = frozenset({"ai_response"})
IN_FLIGHT = -1  # a lookup answered by joining a computation of the same key already running
Compute = Callable[[], Awaitable[dict[str, Any]]]


class TieredCache:
    def __init__(
        self,
        tiers: Sequence[CacheTier],
        *,
        versions: TagVersions | None = None,
        stats: CacheStatsRecorder | None = None,
        prefix: str = "",
        never_cache: Iterable[str] = NEVER_CACHE,
        lock_tier: CacheTier | None = None,
        lock_ttl_s: int = 10,
        lock_wait_s: float = 3.0,
        lock_poll_s: float = 0.02,
        extra: Sequence[CacheTier] = (),
    ) -> None:
        if not tiers:
            raise ValueError("a cache needs at least one tier")
        self.tiers = list(tiers)
        self.versions = versions or TagVersions(MemoryTier(max_entries=None, max_bytes=None), prefix)
        self.recorder = stats or CacheStatsRecorder(prefix=prefix)
        self.prefix = prefix
        self.never_cache = frozenset(never_cache)
        self.lock_tier = lock_tier
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s
        self.lock_poll_s = lock_poll_s
        self._extra = list(extra)  # tiers used only for versions/stats/locks, closed with us
        self._flight: SingleFlight[tuple[dict[str, Any], int | None]] = SingleFlight()
        self._good_tags: set[tuple[str, ...]] = {()}
        self._background: set[asyncio.Task[Any]] = set()
        self._uncacheable_warned: set[str] = set()
        # (node type, tier name, "hit" | "miss") -> lookups: bounded by types x tiers (/metrics)
        self.tier_counts: dict[tuple[str, str, str], int] = {}

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def key(self, tenant_id: Any, node_type: str, fields: Mapping[str, Any]) -> str:
        return build_key(tenant_id, node_type, fields, self.prefix)

    def _tags(self, tags: Iterable[str]) -> tuple[str, ...]:
        tags = tuple(tags)
        if tags not in self._good_tags:
            check_tags(tags)
            if len(self._good_tags) < 1024:
                self._good_tags.add(tags)
        return tags

    # --- the NodeCache port -----------------------------------------------------------------
    async def get_or_compute(
        self,
        tenant_id: Any,
        node_type: str,
        policy: CachePolicy,
        compute: Compute,
    ) -> tuple[dict[str, Any], bool]:
        """``(value, hit)``. A never-cached type (``ai_response``) always computes, never stores.

        Concurrent calls for one key make one ``compute`` call; the callers that joined it
        report a hit (they did not run the node). Errors from ``compute`` propagate to every
        caller that shared it and nothing is stored.
        """
        if node_type in self.never_cache:
            return await compute(), False
        tenant = check_tenant(tenant_id)
        key = build_key(tenant, node_type, policy.key_fields, self.prefix)
        tags = self._tags(policy.tags)
        if key not in self._flight:  # the hot path: a hit needs no coordination
            value, _, at = await self._lookup(key, tenant, tags)
            if value is not None:
                self._answered(node_type, at)
                self.recorder.record(tenant, node_type, key, True)
                return value, True
        (value, at), leader = await self._flight.run(
            key, lambda: self._resolve(key, tenant, tags, policy.ttl, compute)
        )
        if leader:
            self._answered(node_type, at)
        else:
            self._answered(node_type, IN_FLIGHT)
        hit = at is not None or not leader
        self.recorder.record(tenant, node_type, key, hit)
        return value, hit

    def _answered(self, node_type: str, at: int | None) -> None:
        """Count a lookup by tier: the tiers before the one that answered missed, it hit (none
        answered: every tier missed; ``IN_FLIGHT``: it joined a computation already running),
        and name the tier on the running node's span (``akis.cache.tier``)."""
        counts = self.tier_counts
        if at == IN_FLIGHT:
            name = "in-flight"
            counts[(node_type, name, "hit")] = counts.get((node_type, name, "hit"), 0) + 1
        else:
            missed = len(self.tiers) if at is None else at
            for tier in self.tiers[:missed]:
                row = (node_type, tier.name, "miss")
                counts[row] = counts.get(row, 0) + 1
            if at is None:
                return
            name = self.tiers[at].name
            counts[(node_type, name, "hit")] = counts.get((node_type, name, "hit"), 0) + 1
        if tracing.enabled:
            tracing.set_attribute("akis.cache.tier", name)

    async def _resolve(
        self, key: str, tenant: str, tags: tuple[str, ...], ttl: int, compute: Compute
    ) -> tuple[dict[str, Any], int | None]:
        """The miss path, one caller per key: look again (another caller may have just stored
        it), take the cross-process lock, compute, store. Returns the value and the position
        of the tier that had it (None: computed here)."""
        value, versions, at = await self._lookup(key, tenant, tags)
        if value is not None:
            return value, at
        write_versions = await self.versions.ensure(tenant, tags, versions)
        locked = await self._lock(key)
        try:
            if locked is False:  # another process is computing this key: wait a little for it
                value, at = await self._wait_for_other(key, tenant, tags)
                if value is not None:
                    return value, at
            value = await compute()
            await self._store(key, value, ttl, write_versions)
        finally:
            if locked and self.lock_tier is not None:  # locked: there is a lock tier
                await self.lock_tier.delete(lock_key(key, self.prefix))
        return value, None

    # --- public node-level API --------------------------------------------------------------
    async def get(
        self, tenant_id: Any, node_type: str, fields: Mapping[str, Any], tags: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """The cached output, or ``None`` on a miss (counted in the stats like any lookup)."""
        key = self.key(tenant_id, node_type, fields)
        tenant = str(tenant_id)
        value, _, _ = await self._lookup(key, tenant, self._tags(tags))
        self.recorder.record(tenant, node_type, key, value is not None)
        return value

    async def set(
        self,
        tenant_id: Any,
        node_type: str,
        fields: Mapping[str, Any],
        value: dict[str, Any],
        ttl: int = 300,
        tags: Iterable[str] = (),
    ) -> bool:
        """Store in every tier; ``False`` if nothing could be stored (or ``node_type`` is never cached)."""
        if node_type in self.never_cache:
            return False
        key = self.key(tenant_id, node_type, fields)
        tags = self._tags(tags)
        versions = await self.versions.ensure(str(tenant_id), tags, None)
        return await self._store(key, value, ttl, versions)

    def ttl_left(self, key: str) -> int | None:
        """Seconds the entry under ``key`` has left in the fastest local tier holding it, or None
        (not there, or no local tier: :meth:`entry_ttl` asks the shared ones). For inspection."""
        for tier in self.tiers:
            if tier.local:
                local = tier.get_now(key)
                if local is not None:
                    return max(decode_local(local).ttl_left(), 0)
        return None

    async def entry_ttl(self, key: str) -> int | None:
        """Seconds the entry under ``key`` has left in the first tier holding it, or None (gone,
        expired or never stored). Tag invalidation is not checked: this says when it expires."""
        local = self.ttl_left(key)
        if local is not None:
            return local
        for tier in self.tiers:
            if tier.local:
                continue
            raw = await tier.get(key)
            entry = decode(raw) if raw is not None else None
            if entry is not None and entry.ttl_left() > 0:
                return entry.ttl_left()
        return None

    async def delete(self, tenant_id: Any, node_type: str, fields: Mapping[str, Any]) -> bool:
        key = self.key(tenant_id, node_type, fields)
        results = await asyncio.gather(*(tier.delete(key) for tier in self.tiers))
        return any(results)

    async def invalidate(self, tenant_id: Any, tags: Iterable[str]) -> bool:
        """Make every later read of this tenant's entries carrying any of ``tags`` miss.

        Returns ``False`` (and the breaker logs a warning) when the version store is down.
        """
        tenant = check_tenant(tenant_id)
        return await self.versions.bump(tenant, self._tags(tags))

    async def stats(self, tenant_id: Any | None = None) -> dict[str, Any]:
        tenant = None if tenant_id is None else check_tenant(tenant_id)
        return await self.recorder.snapshot(tenant)

    def health(self) -> dict[str, Any]:
        """Per tier: available or bypassed, and how many outages so far (for /healthz)."""
        tiers = [*self.tiers, *self._extra]
        if self.versions.store.shared and self.versions.store not in tiers:
            tiers.append(self.versions.store)
        return {t.name: {"available": t.available, "outages": t.breaker.outages} for t in tiers}

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.recorder.close()
        closed: set[int] = set()
        for tier in [*self.tiers, *self._extra, self.versions.store]:
            if id(tier) not in closed:
                closed.add(id(tier))
                await tier.close()

    # --- internals --------------------------------------------------------------------------
    async def _lookup(
        self, key: str, tenant: str, tags: tuple[str, ...]
    ) -> tuple[dict[str, Any] | None, Versions | None, int | None]:
        """Walk the tiers; return the first fresh value, the tag versions seen (if any) and the
        position of the tier that answered (None: no tier did)."""
        versions: Versions | None = None if tags else {}
        for position, tier in enumerate(self.tiers):
            raw: bytes | None = None
            if tier.local:
                local = tier.get_now(key)
                if local is None:
                    continue
                entry = decode_local(local)
            else:
                if versions is None and tier is self.versions.store:  # entry and versions at once
                    raws = await tier.get_many([key, *self.versions.keys(tenant, tags)])
                    if raws is None:
                        continue
                    raw, versions = raws[0], parse_versions(tags, raws[1:])
                else:
                    raw = await tier.get(key)
                if raw is None:
                    continue
                decoded = decode(raw)
                if decoded is None:
                    continue
                entry = decoded
            if entry.expires_at <= time.time():  # memcached rounds TTLs up
                continue
            if entry.tags:
                if versions is None:
                    if self.versions.local:
                        versions = self.versions.current_now(tenant, tags)
                    else:
                        versions = await self.versions.current(tenant, tags)
                    if versions is None:  # tags cannot be checked: nothing tagged is fresh
                        return None, None, None
                if not is_fresh(entry.tags, versions) and not await self._fresh(entry, tenant, versions):
                    continue
            if position:
                self._fill(position, key, entry, raw)
            return entry.value, versions, position
        return None, versions, None

    async def _fresh(self, entry: Entry, tenant: str, versions: Versions) -> bool:
        """The slow path of the freshness test: the entry carries tags not asked for now."""
        unknown = [t for t in entry.tags if t not in versions]
        if unknown:  # written under other tags than asked for now: check those too
            more = await self.versions.current(tenant, unknown)
            if more is None:
                return False
            versions.update(more)
        return is_fresh(entry.tags, versions)

    def _fill(self, position: int, key: str, entry: Entry, raw: bytes | None) -> None:
        """Copy a hit into the faster tiers, with the time it has left."""
        ttl = entry.ttl_left()
        if ttl < 1:
            return
        for tier in self.tiers[:position]:
            if tier.local:
                tier.set_now(key, encode_local(entry), ttl)
            else:
                self._spawn(tier.set(key, raw or encode(entry.value, entry.tags, ttl), ttl))

    async def _store(self, key: str, value: dict[str, Any], ttl: int, versions: dict[str, int] | None) -> bool:
        if versions is None:  # tag versions unknown (store down): could not be invalidated
            return False
        try:
            data = encode(value, versions, ttl)
        except NotCacheable as exc:
            node_type = parse_key(key, self.prefix)[1]
            if node_type not in self._uncacheable_warned:
                self._uncacheable_warned.add(node_type)
                log.warning("cache: %s output is not JSON, so it is not cached (%s)", node_type, exc)
            return False
        stored = False
        shared = []
        local: bytes | None = None
        for tier in self.tiers:
            if tier.local:
                if local is None:  # the JSON round trip first, so every tier returns the same
                    # data was encoded just above, so it decodes
                    local = encode_local(cast(Entry, decode(data)))
                stored = tier.set_now(key, local, ttl) or stored
            else:
                shared.append(tier.set(key, data, ttl))
        if shared:
            stored = any(await asyncio.gather(*shared)) or stored
        return stored

    async def _lock(self, key: str) -> bool | None:
        """Cross-process single-flight: ``True`` held, ``False`` someone else holds it, ``None`` n/a."""
        if self.lock_tier is None:
            return None
        return await self.lock_tier.add(lock_key(key, self.prefix), b"1", self.lock_ttl_s)

    async def _wait_for_other(
        self, key: str, tenant: str, tags: tuple[str, ...]
    ) -> tuple[dict[str, Any] | None, int | None]:
        """(the value another process stored meanwhile, the tier it was found in), or (None, None)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_wait_s
        while loop.time() < deadline:
            await asyncio.sleep(self.lock_poll_s)
            value, _, at = await self._lookup(key, tenant, tags)
            if value is not None:
                return value, at
            if self.lock_tier is None or await self.lock_tier.get(lock_key(key, self.prefix)) is None:
                value, _, at = await self._lookup(key, tenant, tags)  # it may have stored just now
                return value, at  # else it gave up or failed: compute ourselves
        return None, None

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
