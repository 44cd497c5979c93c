"""The tier contract (aiocache's shape): public methods here, storage primitives in subclasses.

Every public method is bounded by ``timeout_s`` and guarded by a :class:`CircuitBreaker`, and
never raises because the server is down: it returns its ``default`` (a miss, ``False``,
``None``). Subclasses implement only ``_get``, ``_get_many``, ``_set``, ``_add``, ``_delete``,
``_incr`` and ``_close``, each returning an awaitable (an ``async def`` or the client's own
awaitable), and may raise anything on failure.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ..breaker import CircuitBreaker
from ..deadline import DeadlineExceeded, Deadlines

T = TypeVar("T")


class CacheTier:
    """One storage tier. ``shared`` tiers are seen by every process (Redis, Memcached).

    A ``local`` tier lives in this process and cannot be down: it answers through the
    synchronous :meth:`get_now` and :meth:`set_now` (no await, no guard) and holds entries in
    the in-process form (:func:`~runtime.cache.codec.encode_local`) rather than JSON.
    """

    name: str = "tier"
    shared: bool = True
    local: bool = False

    def __init__(
        self,
        timeout_s: float = 0.25,
        retry_after_s: float = 5.0,
        on_outage: Callable[[str], None] | None = None,
        describe: str = "",
        max_concurrency: int = 64,
    ) -> None:
        self.timeout_s = timeout_s
        self.deadlines = Deadlines(timeout_s)
        self.slots = asyncio.Semaphore(max_concurrency)  # at most this many calls (connections) at once
        self.breaker = CircuitBreaker(self.name, retry_after_s, on_outage, describe or self.name)

    # --- public API: bounded, guarded, never raises because the server is down --------------
    async def get(self, key: str) -> bytes | None:
        return await self._guard(self._get, (key,), None)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None] | None:
        """Values in the order of ``keys``; ``None`` (not a list) when the tier is unavailable."""
        if not keys:
            return []
        return await self._guard(self._get_many, (list(keys),), None)

    async def set(self, key: str, data: bytes, ttl: int) -> bool:
        return bool(await self._guard(self._set, (key, data, ttl), False))

    async def add(self, key: str, data: bytes, ttl: int | None) -> bool | None:
        """Store only if absent: ``True`` stored, ``False`` present, ``None`` unavailable."""
        return await self._guard(self._add, (key, data, ttl), None)

    async def delete(self, key: str) -> bool:
        return bool(await self._guard(self._delete, (key,), False))

    async def incr(self, key: str) -> int | None:
        """Add one to an existing counter; ``None`` when it is missing or the tier unavailable."""
        return await self._guard(self._incr, (key,), None)

    @property
    def available(self) -> bool:
        return not self.breaker.is_open

    async def close(self) -> None:
        self.deadlines.close()
        with contextlib.suppress(Exception):  # closing a dead connection is not worth a traceback
            await self._close()

    async def _guard(self, primitive: Callable[..., Awaitable[T]], args: tuple[Any, ...], default: T) -> T:
        """Breaker, then a slot and the call, both under one deadline. The common path (healthy
        tier, free slot) is a handful of attribute tests: it is part of every cache hit."""
        breaker = self.breaker
        if breaker.is_open and not breaker.allow():
            return default
        deadlines = self.deadlines
        task = deadlines.enter()
        try:
            async with self.slots:
                result = await primitive(*args)
        except asyncio.CancelledError:
            if deadlines.expired(task):
                breaker.failure(DeadlineExceeded(f"no answer within {self.timeout_s} s"))
                return default
            breaker.release()  # the caller gave up; that says nothing about the tier
            raise
        except Exception as exc:  # noqa: BLE001 - any client error: the tier is bypassed for a while
            deadlines.expired(task)  # the client may have turned our deadline into its error
            breaker.failure(exc)
            return default
        finally:
            deadlines.leave(task)
        if deadlines.pending and deadlines.expired(task):  # our cancellation was swallowed
            breaker.failure(DeadlineExceeded(f"no answer within {self.timeout_s} s"))
            return default
        if breaker.is_open or breaker.probing:
            breaker.success()
        return result

    # --- a local tier's synchronous core ---------------------------------------------------------
    def get_now(self, key: str) -> bytes | None:
        raise NotImplementedError(f"the {self.name} tier is not local")

    def set_now(self, key: str, data: bytes, ttl: int | None) -> bool:
        raise NotImplementedError(f"the {self.name} tier is not local")

    # --- primitives: an ``async def`` or a method handing back the client's own awaitable ------
    def _get(self, key: str) -> Awaitable[bytes | None]:
        raise NotImplementedError

    def _get_many(self, keys: list[str]) -> Awaitable[list[bytes | None]]:
        raise NotImplementedError

    def _set(self, key: str, data: bytes, ttl: int) -> Awaitable[bool]:
        raise NotImplementedError

    def _add(self, key: str, data: bytes, ttl: int | None) -> Awaitable[bool]:
        raise NotImplementedError

    def _delete(self, key: str) -> Awaitable[bool]:
        raise NotImplementedError

    def _incr(self, key: str) -> Awaitable[int | None]:
        raise NotImplementedError

    async def _close(self) -> None:
        return None
