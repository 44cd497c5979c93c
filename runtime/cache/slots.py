"""A counting limit on concurrent calls whose uncontended path is one integer test.

``asyncio.Semaphore`` costs a few microseconds per call even when free, a noticeable share of
a Redis hit; this caps connections just as well. A slot handed to a waiter that is cancelled
before it resumes is passed on, never lost.
"""
from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def wait(self) -> None:
        """Call only when ``free`` is 0; returns holding a slot."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed to us just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1
