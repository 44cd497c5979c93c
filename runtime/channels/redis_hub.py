"""The Redis channel hub: a run in one process, its subscribers in any other.

Each channel is a Redis Stream. A small Lua script assigns the next cursor (``INCR``) and
appends the event with that cursor as its entry id (``XADD ... <cursor>-0``, capped with
``MAXLEN ~``, expiring after the retention), atomically, so cursors are contiguous and mean the
same in every process as in the in-process hub. ``publish`` only queues: one writer task per
hub sends queued events in pipelined batches, in order. Subscribers ``XREAD BLOCK`` from their
cursor, so resuming after a disconnect is the same call as subscribing.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator

from ..events import Event
from .names import ChannelError, ChannelGap, check_channel

log = logging.getLogger(__name__)

# KEYS[1] stream, KEYS[2] counter; ARGV: event json, maxlen, stream ttl ms, counter ttl ms.
_APPEND = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], n .. '-0', 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return n
"""

_BATCH = 256
_WRITE_ATTEMPTS = 3
_READ_ATTEMPTS = 5
_DOWN_PAUSE_S = 1.0  # after Redis failed a batch, later batches are dropped (counted) this long


def _cursor(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def encode(event: Event) -> str:
    data = event.to_dict()
    data.pop("cursor", None)  # the stream entry id is the cursor
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def decode(entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    raw = fields.get(b"e", fields.get("e"))
    event = Event.from_dict(json.loads(raw))
    event.extra["cursor"] = _cursor(entry_id)
    return event


class RedisChannelHub:
    """Same interface as :class:`~runtime.channels.memory.ChannelHub`, across processes.

    Counters outlive the streams (``counter_ttl_s``, a day by default) so a cursor a client
    kept stays meaningful after the events themselves have expired.
    """

    def __init__(
        self,
        url: str,
        *,
        max_events: int = 10_000,
        retention_s: float = 300.0,
        counter_ttl_s: float = 86_400.0,
        block_ms: int = 500,
        prefix: str = "akis:",
        client: Any = None,
    ) -> None:
        if client is None:
            from redis.asyncio import Redis  # lazy: the embedded default starts without it

            client = Redis.from_url(url)
        self.url = url
        self.max_events = max_events
        self.retention_ms = int(retention_s * 1000)
        self.counter_ttl_ms = int(max(counter_ttl_s, retention_s) * 1000)
        self.block_ms = block_ms
        self.prefix = prefix
        self.dropped = 0  # events that could not be written (Redis down): counted, logged
        self._client = client
        self._sha: str | None = None  # the append script, loaded once per connection to Redis
        self._queue: asyncio.Queue[tuple[str, Event]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._known: set[str] = set()
        self._closed = False
        self._down_until = 0.0

    # --- keys --------------------------------------------------------------------------------
    def stream_key(self, channel: str) -> str:
        return f"{self.prefix}ch:{{{channel}}}"  # hash tag: stream and counter share a slot

    def counter_key(self, channel: str) -> str:
        return f"{self.prefix}ch:{{{channel}}}:n"

    # --- publishing --------------------------------------------------------------------------
    def publish(self, channel: str, event: Event) -> None:
        """Queue the event for the writer task; never blocks, never raises for Redis trouble."""
        if self._closed:
            return
        if channel not in self._known:
            check_channel(channel)
            if len(self._known) > 100_000:
                self._known.clear()
            self._known.add(channel)
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait((channel, event))
        if self._writer is None or self._writer.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError as exc:
                raise ChannelError("publishing through Redis needs a running event loop") from exc
            self._writer = loop.create_task(self._write_loop(), name="akis-channel-writer")

    async def _write_loop(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            batch = [await queue.get()]
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[tuple[str, Event]]) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:  # Redis just failed: drop fast rather than pile up
            self.dropped += len(batch)
            return
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                if self._sha is None:
                    self._sha = await self._client.script_load(_APPEND)
                # EVALSHA directly, not a registered script: redis-py would add a round trip
                # (SCRIPT EXISTS) to every pipeline; a flushed script cache fails once and reloads.
                pipe = self._client.pipeline(transaction=False)
                for channel, event in batch:
                    pipe.evalsha(
                        self._sha, 2, self.stream_key(channel), self.counter_key(channel),
                        encode(event), self.max_events, self.retention_ms, self.counter_ttl_ms,
                    )
                await pipe.execute()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down must not stop a run
                self._sha = None
                if attempt + 1 == _WRITE_ATTEMPTS:
                    self.dropped += len(batch)
                    self._down_until = loop.time() + _DOWN_PAUSE_S
                    log.warning("channel events not delivered (Redis at %s): %s", self.url, exc)
                    return
                await asyncio.sleep(0.05 * 2**attempt)

    async def flush(self) -> None:
        """Wait until every event published so far has been written."""
        if self._queue is not None and self._writer is not None and not self._writer.done():
            await self._queue.join()

    # --- subscribing -------------------------------------------------------------------------
    async def cursor(self, channel: str) -> int:
        """The cursor of the newest event on ``channel`` (0 when there is none)."""
        value = await self._client.get(self.counter_key(check_channel(channel)))
        return int(value) if value else 0

    async def subscribe(self, channel: str, after: int | None = None) -> AsyncIterator[Event]:
        """Like the in-process hub's ``subscribe``; with ``after=None`` the start is the newest
        cursor when iteration begins (use ``after=await hub.cursor(channel)`` to fix it earlier)."""
        check_channel(channel)
        key = self.stream_key(channel)
        last = await self.cursor(channel)
        if after is None or after < 0:
            position = last
        elif after > last:
            position = 0  # a cursor from before the counter expired: replay what is kept
        else:
            position = after
        failures = 0
        while not self._closed:
            try:
                reply = await self._client.xread({key: f"{position}-0"}, count=_BATCH, block=self.block_ms)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                if self._closed:
                    return
                failures += 1
                if failures >= _READ_ATTEMPTS:
                    raise ChannelError(f"channel {channel}: Redis at {self.url} is not answering: {exc}") from exc
                await asyncio.sleep(0.1 * failures)
                continue
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    cursor = _cursor(entry_id)
                    if cursor != position + 1:
                        raise ChannelGap(channel, position, cursor)
                    position = cursor
                    yield decode(entry_id, fields)

    async def aclose(self) -> None:
        """Write what is queued (bounded wait), stop the writer, end subscriptions, disconnect."""
        try:
            await asyncio.wait_for(self.flush(), timeout=2.0)
        except asyncio.TimeoutError:
            log.warning("closing the Redis channel hub with events still queued")
        self._closed = True
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._client.aclose()
