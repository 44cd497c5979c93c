"""Server-Sent Events framing: ``id:``, ``event:``, one ``data:`` line of compact JSON."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from runtime.events import Event

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_S = 15.0


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
    stream of small chunks costs per write, not per byte. A quiet stream gets a comment every
    ``every_s`` so proxies keep it open and a vanished client is noticed.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4 * max_batch)
    failure: list[BaseException] = []

    async def produce() -> None:
        try:
            async for item in frames:
                await queue.put(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer below
            failure.append(exc)
        await queue.put(_END)

    producer = asyncio.get_running_loop().create_task(produce())
    try:
        while True:
            try:
                async with asyncio.timeout(every_s):
                    item = await queue.get()
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            batch: list[bytes] = []
            while True:
                if item is _END:
                    if batch:
                        yield b"".join(batch)
                    if failure:
                        raise failure[0]
                    return
                batch.append(item)
                if len(batch) >= max_batch or queue.empty():
                    break
                item = queue.get_nowait()
            yield b"".join(batch)
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        closer = getattr(frames, "aclose", None)
        if closer is not None:
            await closer()


_END = object()
