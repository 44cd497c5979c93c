"""Server-Sent Events framing: ``id:``, ``event:``, one ``data:`` line of compact JSON."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from runtime.engine.buffer import EventBuffer
from runtime.events import Event

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_S = 15.0
KEEPALIVE = b": keep-alive\n\n"
T = TypeVar("T")


def frame(name: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {name}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def event_frame(event: Event, event_id: int) -> bytes:
    data = event.to_dict()
    data.pop("cursor", None)
    return frame(event.event, data, event_id)


def parse_last_event_id(value: str | None) -> int | None:
    """``Last-Event-ID`` as a non-negative integer, or None when absent or not a number."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return int(value)


async def with_keepalive(frames: AsyncIterator[bytes], every_s: float = KEEPALIVE_S,
                         max_batch: int = 256) -> AsyncIterator[bytes]:
    """Frames from ``frames``, batched, with ``: keep-alive`` comments while it is quiet.

    One producer task reads the source into a bounded queue; the response takes whatever is
    waiting as one write. Batching matters: each write passes every middleware, so a fast
    stream of small chunks costs per write, not per byte. A stream quiet for ``every_s`` gets a
    comment so proxies keep it open and a vanished client is noticed: one timer per stream,
    re-armed when it fires (a timeout per read put a timer on the loop's heap for every frame:
    +44% callgrind instructions per relayed stream, docs/benchmarks.md "The SSE relay's keep-alive").
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4 * max_batch)
    failure: list[BaseException] = []
    loop = asyncio.get_running_loop()
    last = [loop.time()]  # when the producer last queued a frame

    async def produce() -> None:
        try:
            async for item in frames:
                last[0] = loop.time()
                await queue.put(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer below
            failure.append(exc)
        await queue.put(_END)

    def tick() -> None:
        now = loop.time()
        if now - last[0] >= every_s:
            if queue.empty():
                queue.put_nowait(_KEEPALIVE)
            last[0] = now
        timer[0] = loop.call_at(last[0] + every_s, tick)

    producer = loop.create_task(produce())
    timer = [loop.call_at(last[0] + every_s, tick)]
    try:
        while True:
            item = await queue.get()
            if item is _KEEPALIVE:
                yield KEEPALIVE
                continue
            batch: list[bytes] = []
            while True:
                if item is _END:
                    if batch:
                        yield b"".join(batch)
                    if failure:
                        raise failure[0]
                    return
                if item is not _KEEPALIVE:  # frames are going out: no comment needed
                    batch.append(item)
                if len(batch) >= max_batch or queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                yield b"".join(batch)
    finally:
        timer[0].cancel()
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        closer = getattr(frames, "aclose", None)
        if closer is not None:
            await closer()


async def batches(buffer: EventBuffer[T], every_s: float = KEEPALIVE_S,
                  max_batch: int = 256) -> AsyncIterator[list[T] | None]:
    """What ``buffer`` holds, as one list (``max_batch`` items at most: while the client reads
    one write the next is made), each time something arrives; None when it was quiet for
    ``every_s`` (the caller writes a keep-alive comment then).

    For a source that pushes (a run's listener): the response reads in the task that writes,
    so a frame costs one wake-up, not a producer task and a second queue as in
    :func:`with_keepalive` (bench/bench_healthz.py and bench/bench_api.py, docs/benchmarks.md).
    One keep-alive timer per stream, re-armed when it fires.
    """
    loop = buffer.loop
    items = buffer.items
    last = loop.time()  # when a batch last went out
    quiet = False
    timer: asyncio.TimerHandle

    def tick() -> None:
        nonlocal last, quiet, timer
        now = loop.time()
        if now - last >= every_s:
            quiet = True
            last = now
            buffer.wake()
        timer = loop.call_at(last + every_s, tick)

    timer = loop.call_at(last + every_s, tick)
    try:
        while True:
            while not items and not quiet:
                waiter = buffer.waiter = loop.create_future()
                await waiter
            if items:
                if len(items) <= max_batch:
                    batch = list(items)
                    items.clear()
                else:
                    batch = [items.popleft() for _ in range(max_batch)]
                quiet = False
                last = loop.time()
                yield batch
            else:
                quiet = False
                yield None
    finally:
        timer.cancel()


_END = object()
_KEEPALIVE = object()
