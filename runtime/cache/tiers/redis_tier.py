"""The Redis tier over ``redis.asyncio`` (imported lazily: the default install needs no Redis).

The connection pool is bounded and every call is bounded by the tier timeout, so a hung
server costs one timeout before the breaker opens. The same client also holds the shared hit-rate
counters (hashes) and the cross-process single-flight locks.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...redis_clients import RedisTimeouts, redis_client, request_timeouts, safe_url
from .base import CacheTier

_safe_url = safe_url  # the name this module used to define


class RedisTier(CacheTier):
    name = "redis"
    shared = True

    def __init__(
        self,
        url: str,
        timeout_s: float = 0.25,
        retry_after_s: float = 5.0,
        on_outage: Callable[[str], None] | None = None,
        max_connections: int = 64,
        timeouts: RedisTimeouts | None = None,
    ) -> None:
        super().__init__(
            timeout_s, retry_after_s, on_outage, describe=f"redis ({_safe_url(url)})", max_concurrency=max_connections
        )
        self.url = url
        # The tier's guard bounds every call (connection wait and reply included) by
        # ``timeout_s``: redis-py drops a connection whose call was cancelled. The client's own
        # timeouts are the backstop (settings: AKIS_REDIS_*_TIMEOUT_S), connecting no longer
        # than the tier timeout. Concurrency is capped by the guard's slots, which cost less
        # than redis-py's blocking pool.
        timeouts = timeouts or request_timeouts()
        timeouts = RedisTimeouts(min(timeouts.connect_s, timeout_s), max(timeouts.socket_s, timeout_s))
        self.client: Any = redis_client(url, timeouts, max_connections=max_connections)

    # The two read primitives hand back the client's own awaitable: one coroutine less per hit.
    def _get(self, key: str) -> Awaitable[bytes | None]:
        return self.client.get(key)

    def _get_many(self, keys: list[str]) -> Awaitable[list[bytes | None]]:
        return self.client.mget(keys)

    async def _set(self, key: str, data: bytes, ttl: int) -> bool:
        return bool(await self.client.set(key, data, ex=max(1, int(ttl))))

    async def _add(self, key: str, data: bytes, ttl: int | None) -> bool:
        ex = None if ttl is None else max(1, int(ttl))
        return bool(await self.client.set(key, data, ex=ex, nx=True))

    async def _delete(self, key: str) -> bool:
        return bool(await self.client.delete(key))

    async def _incr(self, key: str) -> int | None:
        # INCR alone would create a missing counter at 1, which could equal a version an old
        # entry was written with; incrementing only an existing key keeps "missing" visible.
        value = await self.client.eval(_INCR_IF_EXISTS, 1, key)
        return None if value is None else int(value)

    # --- hashes for shared hit-rate counters (guarded like everything else) ------------------
    async def hincr_many(self, updates: Sequence[tuple[str, str, int]], expire_s: int) -> bool:
        """Apply ``(hash, field, delta)`` increments in one round trip; refresh the hashes' TTL."""
        return bool(await self._guard(self._hincr_many, (list(updates), expire_s), False))

    async def hgetall_many(self, names: Sequence[str]) -> list[dict[bytes, bytes]] | None:
        return await self._guard(self._hgetall_many, (list(names),), None)

    async def _hincr_many(self, updates: list[tuple[str, str, int]], expire_s: int) -> bool:
        pipe = self.client.pipeline(transaction=False)
        names = set()
        for name, field, delta in updates:
            pipe.hincrby(name, field, delta)
            names.add(name)
        for name in names:
            pipe.expire(name, expire_s)
        await pipe.execute()
        return True

    async def _hgetall_many(self, names: list[str]) -> list[dict[bytes, bytes]]:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(name)
        return list(await pipe.execute())

    async def _close(self) -> None:
        await self.client.aclose()


_INCR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end return nil"
