"""A run's SSE stream reads its events in the writing task: what waits goes out as one write,
a quiet stream gets keep-alive comments, and nothing is lost or reordered."""
from __future__ import annotations

import asyncio

from editor.api import sse
from runtime.engine.buffer import EventBuffer


async def test_what_waits_is_one_batch_and_order_is_kept() -> None:
    buffer: EventBuffer[int] = EventBuffer()
    for i in range(5):
        buffer.push(i)
    batches = sse.batches(buffer, every_s=10)
    assert await anext(batches) == [0, 1, 2, 3, 4]

    async def later() -> None:
        await asyncio.sleep(0.01)
        buffer.push(5)
        buffer.push(6)

    pusher = asyncio.ensure_future(later())
    assert await anext(batches) == [5, 6]  # woken by the push, not by a timer
    await pusher
    await batches.aclose()


async def test_a_long_backlog_goes_out_in_writes_of_max_batch() -> None:
    buffer: EventBuffer[int] = EventBuffer()
    for i in range(5):
        buffer.push(i)
    batches = sse.batches(buffer, every_s=10, max_batch=2)
    assert [await anext(batches) for _ in range(3)] == [[0, 1], [2, 3], [4]]
    await batches.aclose()


async def test_a_quiet_stream_gets_keepalives_and_then_its_events() -> None:
    buffer: EventBuffer[str] = EventBuffer()
    batches = sse.batches(buffer, every_s=0.02)
    assert await anext(batches) is None  # quiet for every_s: the caller writes a comment
    assert await anext(batches) is None  # and again while it stays quiet
    buffer.push("a")
    assert await anext(batches) == ["a"]
    await batches.aclose()


class CountingBuffer(EventBuffer[str]):
    """Counts the keep-alive timer's wake-ups."""

    wakes = 0

    def wake(self) -> None:
        self.wakes += 1
        super().wake()


async def test_closing_the_stream_stops_its_timer() -> None:
    buffer = CountingBuffer()
    batches = sse.batches(buffer, every_s=0.01)
    assert await anext(batches) is None
    woken = buffer.wakes
    assert woken >= 1
    await batches.aclose()
    await asyncio.sleep(0.05)  # a live timer would fire here
    assert buffer.wakes == woken
