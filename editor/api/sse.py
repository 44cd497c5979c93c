"""Server-Sent Events framing: ``id:``, ``event:``, one ``data:`` line of compact JSON."""
from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

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


async def with_keepalive(frames: AsyncIterator[bytes], every_s: float = KEEPALIVE_S) -> AsyncIterator[bytes]:
    """Interleave ``: keep-alive`` comments while the source is quiet, so proxies keep the
    connection open and a vanished client is noticed."""
    iterator = frames.__aiter__()
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=every_s)
            if not done:
                yield b": keep-alive\n\n"
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()
