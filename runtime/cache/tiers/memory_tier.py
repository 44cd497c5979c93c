"""The in-process tier: an LRU bounded by entry count and bytes, with per-entry TTL.

It is the default (a fresh install needs no server) and the fastest tier in front of the
others. It cannot be down, so its public methods skip the timeout and breaker machinery.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

from .base import CacheTier


class MemoryTier(CacheTier):
    name = "memory"
    shared = False
    local = True

    def __init__(self, max_entries: int | None = 10_000, max_bytes: int | None = 64 * 1024 * 1024) -> None:
        super().__init__(describe="memory (in-process)")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[str, tuple[float | None, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    # --- synchronous core: the hot path calls get_now directly ------------------------------
    def get_now(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, data = item
        if expires is not None and expires <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return data

    def set_now(self, key: str, data: bytes, ttl: int | None) -> bool:
        size = len(data)
        if self.max_bytes is not None and size > self.max_bytes:
            self._drop(key)
            return False
        self._drop(key)
        self._data[key] = (None if ttl is None else time.monotonic() + ttl, data)
        self.bytes += size
        self._evict()
        return True

    def _drop(self, key: str) -> bool:
        item = self._data.pop(key, None)
        if item is None:
            return False
        self.bytes -= len(item[1])
        return True

    def _evict(self) -> None:
        while self._data and (
            (self.max_entries is not None and len(self._data) > self.max_entries)
            or (self.max_bytes is not None and self.bytes > self.max_bytes)
        ):
            _, (_, data) = self._data.popitem(last=False)
            self.bytes -= len(data)

    # --- public API without the guard: nothing here can hang --------------------------------
    async def get(self, key: str) -> bytes | None:
        return self.get_now(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None] | None:
        return [self.get_now(k) for k in keys]

    async def set(self, key: str, data: bytes, ttl: int) -> bool:
        return self.set_now(key, data, ttl)

    async def add(self, key: str, data: bytes, ttl: int | None) -> bool | None:
        return await self._add(key, data, ttl)

    async def delete(self, key: str) -> bool:
        return self._drop(key)

    async def incr(self, key: str) -> int | None:
        return await self._incr(key)

    # --- primitives (used through the public methods above) ----------------------------------
    async def _get(self, key: str) -> bytes | None:
        return self.get_now(key)

    async def _get_many(self, keys: list[str]) -> list[bytes | None]:
        return [self.get_now(k) for k in keys]

    async def _set(self, key: str, data: bytes, ttl: int) -> bool:
        return self.set_now(key, data, ttl)

    async def _add(self, key: str, data: bytes, ttl: int | None) -> bool:
        if self.get_now(key) is not None:
            return False
        return self.set_now(key, data, ttl)

    async def _delete(self, key: str) -> bool:
        return self._drop(key)

    async def _incr(self, key: str) -> int | None:
        item = self._data.get(key)
        current = self.get_now(key)
        if item is None or current is None:
            return None
        value = int(current) + 1
        data = str(value).encode()
        self.bytes += len(data) - len(current)
        self._data[key] = (item[0], data)
        return value
