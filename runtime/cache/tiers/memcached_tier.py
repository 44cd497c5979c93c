"""The Memcached tier over ``pymemcache``, run in a small thread pool so the loop never blocks.

pymemcache is a blocking client; each call goes to a dedicated executor whose threads use a
pooled client with socket timeouts equal to the tier timeout, so a hung server ties up a
thread for at most one timeout while the breaker bypasses it.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from .base import CacheTier


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"AKIS_MEMCACHED must be host:port, got {address!r}")
    return host.strip("[]"), int(port)


class MemcachedTier(CacheTier):
    name = "memcached"
    shared = True

    def __init__(
        self,
        address: str,
        timeout_s: float = 0.25,
        retry_after_s: float = 5.0,
        on_outage: Callable[[str], None] | None = None,
        threads: int = 8,
    ) -> None:
        super().__init__(timeout_s, retry_after_s, on_outage, describe=f"memcached ({address})")
        from pymemcache.client.base import PooledClient  # lazy: needed only with a Memcached tier

        self.address = address
        self.client: Any = PooledClient(
            parse_address(address),
            connect_timeout=timeout_s,
            timeout=timeout_s,
            no_delay=True,
            max_pool_size=threads,
            default_noreply=False,
        )
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="akis-memcached")

    def _run(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def _get(self, key: str) -> Awaitable[bytes | None]:
        return self._run(self.client.get, key)

    def _get_many(self, keys: list[str]) -> Awaitable[list[bytes | None]]:
        return self._run(self._get_many_sync, keys)

    def _get_many_sync(self, keys: list[str]) -> list[bytes | None]:
        found = self.client.get_many(keys) if keys else {}
        return [found.get(k) for k in keys]

    async def _set(self, key: str, data: bytes, ttl: int) -> bool:
        return await self._run(self._set_sync, key, data, max(1, int(ttl)))

    def _set_sync(self, key: str, data: bytes, ttl: int) -> bool:
        from pymemcache.exceptions import MemcacheServerError  # lazy, as above

        try:
            return bool(self.client.set(key, data, expire=ttl, noreply=False))
        except MemcacheServerError:  # "object too large for cache": not stored, not an outage
            return False

    async def _add(self, key: str, data: bytes, ttl: int | None) -> bool:
        return bool(await self._run(partial(self.client.add, key, data, expire=ttl or 0, noreply=False)))

    async def _delete(self, key: str) -> bool:
        return bool(await self._run(partial(self.client.delete, key, noreply=False)))

    async def _incr(self, key: str) -> int | None:
        value = await self._run(partial(self.client.incr, key, 1, noreply=False))
        return None if value is None else int(value)

    async def _close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
