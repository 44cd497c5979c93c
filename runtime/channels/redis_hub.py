"""The Redis channel hub: a run in one process, its subscribers in any other.

Each channel is a Redis Stream. A small Lua script assigns the next cursor (``INCR``) and
appends the event with that cursor as its entry id (``XADD ... <cursor>-0``, capped with
``MAXLEN ~``, expiring after the retention), atomically, so cursors are contiguous and mean the
same in every process as in the in-process hub. ``publish`` only queues: one writer task per
hub sends queued events in pipelined batches, in order. Subscribers ``XREAD BLOCK`` from their
cursor, so resuming after a disconnect is the same call as subscribing.

When Redis does not answer. Every call is bounded (the client's connect and socket timeouts,
and the call as a whole by their sum), and a failure opens a circuit breaker (the cache's, see
:mod:`runtime.cache.breaker`): for ``retry_after_s`` no call goes to Redis, then one probes it.
Meanwhile runs go on and stream to their own callers: ``publish`` drops events (counted in
``dropped``; a worker's hub, ``keep_on_outage``, holds them until Redis answers instead),
``cursor`` and ``subscribe`` raise :class:`ChannelUnavailable` at once, and the outage is logged once
(``runtime.channels``) and counted (``health()``). When Redis is back the first write puts a
``relay.degraded`` event in each channel that lost events, per run, so a subscriber reading it
later is told rather than handed a shorter answer in silence.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..cache.breaker import CircuitBreaker
from ..events import RELAY_DEGRADED, RUN_FINISHED, Event
from ..redis_clients import RedisTimeouts, redis_client, request_timeouts, safe_url
from .names import DEGRADED, ChannelError, ChannelGap, ChannelUnavailable, check_channel

log = logging.getLogger(__name__)
T = TypeVar("T")

# KEYS[1] stream, KEYS[2] counter; ARGV: event json, maxlen, stream ttl ms, counter ttl ms.
_APPEND = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], n .. '-0', 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return n
"""

# The same, fenced (queue mode): KEYS[3] holds the run's current attempt; an event of an older
# attempt (a worker that lost the run's lease and does not know it yet) is not appended.
_APPEND_FENCED = """
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[5]) then return 0 end
""" + _APPEND

# KEYS[1] fence; ARGV: attempt, ttl ms. Raises the fence to this attempt (never lowers it).
_RAISE_FENCE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""

Fence = tuple[str, int]  # (run id, attempt): whose events these are
_BATCH = 256
_MAX_LOST_RUNS = 10_000  # runs whose lost events are remembered for a relay.degraded note


def _cursor(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def encode(event: Event) -> str:
    data = event.to_dict()
    data.pop("cursor", None)  # the stream entry id is the cursor
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def decode(entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    """The event of a stream entry, its cursor in ``extra`` (not an Event field: it lands there)."""
    data = json.loads(fields.get(b"e") or fields.get("e") or "{}")
    data["cursor"] = _cursor(entry_id)
    return Event.from_dict(data)


class RedisChannelHub:
    """Same interface as :class:`~runtime.channels.memory.ChannelHub`, across processes.

    Counters outlive the streams (``counter_ttl_s``, a day by default) so a cursor a client
    kept stays meaningful after the events themselves have expired. Timeouts default to the
    settings' (``AKIS_REDIS_CONNECT_TIMEOUT_S``, ``AKIS_REDIS_SOCKET_TIMEOUT_S``); a blocking
    read asks Redis for at most half the socket timeout, so a healthy idle channel never
    looks like a dead server.
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
        timeouts: RedisTimeouts | None = None,
        retry_after_s: float = 5.0,
        keep_on_outage: bool = False,
        max_backlog: int = 100_000,
    ) -> None:
        self.timeouts = timeouts or request_timeouts()
        if client is None:
            client = redis_client(url, self.timeouts)
        self.url = url
        self.max_events = max_events
        self.retention_ms = int(retention_s * 1000)
        self.counter_ttl_ms = int(max(counter_ttl_s, retention_s) * 1000)
        self.block_ms = max(1, min(block_ms, int(self.timeouts.socket_s * 500)))
        self.prefix = prefix
        self.dropped = 0  # events that could not be written (Redis down): counted, logged
        # a worker's events are the only copy its runs' followers get: held and written when Redis
        # answers again, up to ``max_backlog`` queued events, rather than dropped
        self.keep_on_outage = keep_on_outage
        self.max_backlog = max_backlog
        self.breaker = CircuitBreaker(
            "channels", retry_after_s, describe=f"redis ({safe_url(url)})", kind="channel relay",
            effect=f"runs go on, {DEGRADED}", logger=logging.getLogger("runtime.channels"),
        )
        self._client = client
        self._sha: str | None = None  # the append script, loaded once per connection to Redis
        self._fenced_sha: str | None = None
        self._queue: asyncio.Queue[tuple[str, Event, Fence | None]] | None = None
        self._queued = 0  # events published so far ...
        self._settled = 0  # ... and of those, written or dropped (in order)
        self._progress: asyncio.Event | None = None  # set when _settled grows
        self._writer: asyncio.Task[None] | None = None
        self._known: set[str] = set()
        self._closed = False
        # (channel, run) -> [events lost, whether run.finished was among them, first lost index]
        self._lost: dict[tuple[str, str], list[Any]] = {}

    # --- keys --------------------------------------------------------------------------------
    def stream_key(self, channel: str) -> str:
        return f"{self.prefix}ch:{{{channel}}}"  # hash tag: stream and counter share a slot

    def counter_key(self, channel: str) -> str:
        return f"{self.prefix}ch:{{{channel}}}:n"

    def fence_key(self, channel: str, run_id: str) -> str:
        return f"{self.prefix}ch:{{{channel}}}:f:{run_id}"

    async def raise_fence(self, channel: str, run_id: str, attempt: int) -> None:
        """From now on the run's events of earlier attempts are refused (a takeover; bounded)."""
        key = self.fence_key(check_channel(channel), run_id)
        await self._call(lambda: self._client.eval(_RAISE_FENCE, 1, key, attempt, self.counter_ttl_ms))

    # --- health ------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while the breaker is open: Redis failed and has not answered a probe since."""
        return not self.breaker.is_open

    def lost(self, channel: str, run_id: str) -> int:
        """Events of ``run_id`` on ``channel`` not relayed yet (0 once a note has been written)."""
        entry = self._lost.get((channel, run_id))
        return entry[0] if entry is not None else 0

    def health(self) -> dict[str, Any]:
        return {"available": self.available, "outages": self.breaker.outages, "dropped": self.dropped}

    async def _call(self, call: Callable[[], Awaitable[T]], extra_s: float = 0.0) -> T:
        """One Redis call, bounded and guarded by the breaker; ChannelUnavailable when Redis is
        down. A connection refused or reset is tried once more at once (a pooled connection
        to a restarted Redis fails once); a timeout is not: it already took a full timeout."""
        breaker = self.breaker
        if not breaker.allow():
            raise ChannelUnavailable(self._down())
        for attempt in range(2):
            try:
                async with asyncio.timeout(self.timeouts.call_s + extra_s):
                    result = await call()
            except asyncio.CancelledError:
                breaker.release()  # our caller gave up: that says nothing about Redis
                raise
            except Exception as exc:
                if attempt == 0 and isinstance(exc, (RedisConnectionError, OSError)) \
                        and not isinstance(exc, (RedisTimeoutError, TimeoutError)):
                    continue
                if self._closed:
                    raise ChannelUnavailable("the channel hub is closed") from exc
                if isinstance(exc, TimeoutError) and not str(exc):
                    exc = TimeoutError(f"no answer within {self.timeouts.call_s + extra_s:.2f} s")
                breaker.failure(exc)
                raise ChannelUnavailable(self._down(exc)) from exc
            if breaker.is_open or breaker.probing:
                breaker.success()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _down(self, exc: BaseException | None = None) -> str:
        """What callers (and API clients) are told: no address, no server text; the log has them."""
        reason = f" ({type(exc).__name__})" if exc is not None else ""
        return f"the channel relay (Redis) is not answering{reason}: {DEGRADED}"

    # --- publishing --------------------------------------------------------------------------
    def publish(self, channel: str, event: Event, fence: Fence | None = None) -> None:
        """Queue the event for the writer task; never blocks, never raises for Redis trouble.
        ``fence``: the run and attempt publishing it (see :meth:`raise_fence`)."""
        if self._closed:
            return
        if channel not in self._known:
            check_channel(channel)
            if len(self._known) > 100_000:
                self._known.clear()
            self._known.add(channel)
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait((channel, event, fence))
        self._queued += 1
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
                self._settled += len(batch)
                if self._progress is not None:
                    self._progress.set()
                    self._progress = None

    def mark(self) -> int:
        """How many events were published so far (for :meth:`settled`)."""
        return self._queued

    async def settled(self, mark: int) -> None:
        """Until the first ``mark`` events published are written (or dropped): a worker saves a
        node's checkpoint only once the node's chunks are in the channel, so a takeover that
        skips the node never leaves a follower without them."""
        while self._settled < mark and not self._closed:
            progress = self._progress = self._progress or asyncio.Event()
            await progress.wait()

    async def _write(self, batch: list[tuple[str, Event, Fence | None]]) -> None:
        """Append the batch; while Redis is down, drop it at once (counted, remembered per run),
        or with ``keep_on_outage`` try it again when the breaker lets a probe through. A retried
        write may append events twice (the first try's reply was lost, not its work): followers
        pass an event on once by its index."""
        while True:
            notes = self._notes()
            try:
                await self._call(lambda: self._append(notes + batch))  # noqa: B023 - awaited at once
            except ChannelUnavailable:
                queued = self._queue.qsize() if self._queue is not None else 0
                if self.keep_on_outage and not self._closed and queued < self.max_backlog:
                    await asyncio.sleep(self.breaker.retry_after_s)
                    continue
                self._drop(batch)
                return
            for channel, note, _ in notes:
                self._lost.pop((channel, note.run_id), None)
            return

    async def _append(self, items: list[tuple[str, Event, Fence | None]]) -> None:
        for attempt in range(2):
            if self._sha is None:
                self._sha = await self._client.script_load(_APPEND)
            if self._fenced_sha is None and any(fence is not None for *_, fence in items):
                self._fenced_sha = await self._client.script_load(_APPEND_FENCED)
            # EVALSHA directly, not a registered script: redis-py would add a round trip
            # (SCRIPT EXISTS) to every pipeline; a flushed script cache fails once and reloads.
            pipe = self._client.pipeline(transaction=False)
            for channel, event, fence in items:
                args = (encode(event), self.max_events, self.retention_ms, self.counter_ttl_ms)
                if fence is None:
                    pipe.evalsha(self._sha, 2, self.stream_key(channel), self.counter_key(channel), *args)
                else:
                    pipe.evalsha(self._fenced_sha, 3, self.stream_key(channel), self.counter_key(channel),
                                 self.fence_key(channel, fence[0]), *args, fence[1])
            try:
                await pipe.execute()
                return
            except NoScriptError:  # Redis restarted or SCRIPT FLUSH: nothing was appended
                self._sha = self._fenced_sha = None
                if attempt:
                    raise

    def _drop(self, batch: list[tuple[str, Event, Fence | None]]) -> None:
        self.dropped += len(batch)
        lost = self._lost
        for channel, event, _ in batch:
            if event.event == RELAY_DEGRADED:
                continue
            entry = lost.get((channel, event.run_id))
            if entry is None:
                if len(lost) >= _MAX_LOST_RUNS:
                    continue  # still counted in ``dropped``; only the note is skipped
                entry = lost[(channel, event.run_id)] = [0, False, event.index]
            entry[0] += 1
            if event.event == RUN_FINISHED:
                entry[1] = True

    def _notes(self) -> list[tuple[str, Event, Fence | None]]:
        """A ``relay.degraded`` event per (channel, run) that lost events, written first when
        Redis answers again."""
        if not self._lost:
            return []
        return [
            (channel, Event(RELAY_DEGRADED, run_id, 0.0, index=first, status="degraded",
                            error=f"{count} event(s) of this run were not relayed while Redis was not answering;"
                                  " the stored run has the full answer",
                            extra={"lost": count, "finished_lost": finished}), None)
            for (channel, run_id), (count, finished, first) in list(self._lost.items())[:_BATCH]
        ]

    async def flush(self) -> None:
        """Wait until every event published so far has been written (or dropped)."""
        if self._queue is not None and self._writer is not None and not self._writer.done():
            await self._queue.join()

    # --- subscribing -------------------------------------------------------------------------
    async def cursor(self, channel: str) -> int:
        """The cursor of the newest event on ``channel`` (0 when there is none); bounded, and
        :class:`ChannelUnavailable` at once while Redis is known to be down."""
        key = self.counter_key(check_channel(channel))
        value = await self._call(lambda: self._client.get(key))
        return int(value) if value else 0

    async def subscribe(self, channel: str, after: int | None = None,
                        stop: asyncio.Event | None = None) -> AsyncIterator[Event]:
        """Like the in-process hub's ``subscribe``; with ``after=None`` the start is the newest
        cursor when iteration begins (use ``after=await hub.cursor(channel)`` to fix it earlier).
        ``stop``: once set, iteration ends after the read under way returns (within ``block_ms``).
        Ending so, instead of cancelling the read, keeps its connection: a read cancelled while
        blocked closes the connection, and the next command paid a new one (about 2.5 ms, the
        largest part of queue mode's added time to first chunk; bench/bench_durable.py).

        Raises :class:`ChannelUnavailable` when Redis stops answering (resume with the last
        cursor seen once it is back)."""
        check_channel(channel)
        key = self.stream_key(channel)
        last = await self.cursor(channel)
        if after is None or after < 0:
            position = last
        elif after > last:
            position = 0  # a cursor from before the counter expired: replay what is kept
        else:
            position = after
        block_s = self.block_ms / 1000
        while not self._closed and not (stop is not None and stop.is_set()):
            try:
                streams = {key: f"{position}-0"}
                # B023: the lambda is called and awaited before the loop goes round: these are its streams
                reply = await self._call(
                    lambda: self._client.xread(streams, count=_BATCH, block=self.block_ms),  # noqa: B023 - see above
                    block_s,
                )
            except ChannelUnavailable:
                if self._closed:
                    return
                raise
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
        except TimeoutError:
            log.warning("closing the Redis channel hub with events still queued")
        self._closed = True
        if self._progress is not None:
            self._progress.set()  # nobody waits for writes that will not happen
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._client.aclose()
