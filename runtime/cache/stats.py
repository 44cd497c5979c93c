"""Hit rates per key and per node type as ``{"total", "hits", "rate"}`` (the API's and the
dashboard's shape, docs/cache.md).

Counting must not slow a lookup down, so ``record`` only adds to dicts. Without Redis those
dicts are the stats. With Redis they are pending deltas, flushed in one pipelined round trip
about once a second (and before every read), into hashes that all processes add up.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .keys import CacheKeyError, parse_key

if TYPE_CHECKING:
    from .tiers.redis_tier import RedisTier

log = logging.getLogger("runtime.cache")

STATS_TTL_S = 7 * 24 * 3600  # hashes expire a week after the last lookup


def counts(total: int, hits: int) -> dict[str, Any]:
    return {"total": total, "hits": hits, "rate": round(100.0 * hits / total, 2) if total else 0.0}


class _Counters:
    """``[total, hits, "tenant:node_type"]`` per key, the per-type rows of keys past the cap,
    and outages per tier. Node-type totals are summed from the keys when read, so a lookup
    touches one dict entry."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.keys: dict[str, list[Any]] = {}
        self.overflow: dict[str, list[int]] = {}  # "tenant:node_type" -> [total, hits]
        self.outages: dict[str, int] = {}

    def add_new(self, tenant: str, node_type: str, key: str, hit: bool) -> None:
        type_field = f"{tenant}:{node_type}"
        if len(self.keys) < self.max_keys:
            self.keys[key] = [1, int(hit), type_field]
            return
        row = self.overflow.setdefault(type_field, [0, 0])  # past the cap only types count
        row[0] += 1
        row[1] += hit

    def types(self) -> dict[str, list[int]]:
        out = {field: list(row) for field, row in self.overflow.items()}
        for total, hits, field in self.keys.values():
            row = out.setdefault(field, [0, 0])
            row[0] += total
            row[1] += hits
        return out

    def __bool__(self) -> bool:
        return bool(self.keys or self.overflow or self.outages)


class CacheStatsRecorder:
    def __init__(self, prefix: str = "", max_keys: int = 10_000, flush_every_s: float = 1.0) -> None:
        self.prefix = prefix
        self.max_keys = max_keys
        self.flush_every_s = flush_every_s
        self.redis: RedisTier | None = None
        self._local = _Counters(max_keys)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[bool] | None = None

    def attach(self, redis: RedisTier | None) -> None:
        """Keep the counters in Redis from now on (shared by every process)."""
        self.redis = redis

    @property
    def source(self) -> str:
        return "redis" if self.redis is not None else "memory"

    def _hash(self, kind: str) -> str:
        return f"{self.prefix}akis_stats:{kind}"

    # --- recording (hot path) ---------------------------------------------------------------
    def record(self, tenant: str, node_type: str, key: str, hit: bool) -> None:
        row = self._local.keys.get(key)
        if row is None:
            self._local.add_new(tenant, node_type, key, hit)
        else:
            row[0] += 1
            row[1] += hit
        if self._flush_handle is None and self.redis is not None:
            self._schedule_flush()

    def count_outage(self, tier: str) -> None:
        self._local.outages[tier] = self._local.outages.get(tier, 0) + 1
        if self.redis is not None and self._flush_handle is None:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._flush_handle = loop.call_later(self.flush_every_s, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> bool:
        """Push pending deltas to Redis; on failure keep them for the next try."""
        if self.redis is None or not self._local:
            return True
        pending, self._local = self._local, _Counters(self.max_keys)
        updates: list[tuple[str, str, int]] = []
        for key, (total, hits, _) in pending.keys.items():
            updates.append((self._hash("keys:total"), key, total))
            if hits:
                updates.append((self._hash("keys:hits"), key, hits))
        for field, (total, hits) in pending.types().items():
            updates.append((self._hash("types:total"), field, total))
            if hits:
                updates.append((self._hash("types:hits"), field, hits))
        for tier, n in pending.outages.items():
            updates.append((self._hash("outages"), tier, n))
        if await self.redis.hincr_many(updates, STATS_TTL_S):
            return True
        self._merge_back(pending)
        return False

    def _merge_back(self, pending: _Counters) -> None:
        for key, (total, hits, field) in pending.keys.items():
            row = self._local.keys.setdefault(key, [0, 0, field])
            row[0] += total
            row[1] += hits
        for field, (total, hits) in pending.overflow.items():
            row = self._local.overflow.setdefault(field, [0, 0])
            row[0] += total
            row[1] += hits
        for tier, n in pending.outages.items():
            self._local.outages[tier] = self._local.outages.get(tier, 0) + n

    # --- reading ----------------------------------------------------------------------------
    async def snapshot(self, tenant: str | None = None) -> dict[str, Any]:
        """``{"source", "keys": {key: counts}, "node_types": {tenant: {type: counts}}, "outages"}``."""
        if self.redis is not None and await self.flush():
            names = ["keys:total", "keys:hits", "types:total", "types:hits", "outages"]
            hashes = await self.redis.hgetall_many([self._hash(n) for n in names])
            if hashes is not None:
                k_total, k_hits, t_total, t_hits, outages = ({_s(f): int(v) for f, v in h.items()} for h in hashes)
                keys = {k: [n, k_hits.get(k, 0)] for k, n in k_total.items()}
                types = {t: [n, t_hits.get(t, 0)] for t, n in t_total.items()}
                return _shape(keys, types, outages, tenant, "redis", self.prefix)
        source = "memory" if self.redis is None else "memory (Redis unavailable: this process's unsent counts)"
        keys = {k: v[:2] for k, v in self._local.keys.items()}
        types = self._local.types()
        outages = dict(self._local.outages)
        return _shape(keys, types, outages, tenant, source, self.prefix)

    async def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._flush_task is not None and not self._flush_task.done():
            await self._flush_task
        await self.flush()


def _s(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _tenant_of(key: str, prefix: str) -> str | None:
    try:
        return parse_key(key, prefix)[0]
    except (CacheKeyError, IndexError):
        return None


def _shape(
    keys: dict[str, list[int]],
    types: dict[str, list[int]],
    outages: dict[str, int],
    tenant: str | None,
    source: str,
    prefix: str,
) -> dict[str, Any]:
    by_key: dict[str, Any] = {}
    for key, (total, hits) in sorted(keys.items()):
        if tenant is None or _tenant_of(key, prefix) == tenant:
            by_key[key] = counts(total, hits)
    by_type: dict[str, dict[str, Any]] = {}
    for field, (total, hits) in sorted(types.items()):
        owner, _, node_type = field.partition(":")
        if tenant is None or owner == tenant:
            by_type.setdefault(owner, {})[node_type] = counts(total, hits)
    return {"source": source, "keys": by_key, "node_types": by_type, "outages": dict(sorted(outages.items()))}
