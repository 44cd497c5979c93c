"""In-process single-flight: concurrent calls for one key share the first caller's work.

Followers wait on the leader's future behind ``asyncio.shield``, so a follower that is
cancelled never cancels the shared work. If the leader itself is cancelled, followers start
over instead of inheriting a cancellation that was not theirs.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _LeaderCancelled(Exception):
    pass


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Future[T]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, key: str) -> bool:
        return key in self._calls

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``(result, leader)``: ``leader`` is False for callers that joined another's call."""
        while True:
            shared = self._calls.get(key)
            if shared is None:
                break
            try:
                return await asyncio.shield(shared), False
            except _LeaderCancelled:
                continue
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._calls[key] = future
        try:
            result = await fn()
        except asyncio.CancelledError:
            future.set_exception(_LeaderCancelled())
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result, True
        finally:
            del self._calls[key]


def _consume(future: asyncio.Future) -> None:
    """Mark an exception as seen, so a call with no followers logs nothing at collection."""
    if not future.cancelled():
        future.exception()
