"""The in-process channel hub: the default, with no server.

Every published event gets a channel *cursor* (1, 2, 3, ... per channel; a subscriber reads it
in ``extra["cursor"]``) and is kept in a bounded buffer for a short time. A subscriber is just
a position in that buffer: it reads what is there and waits for more, so a late or reconnecting
subscriber resumes with ``after=<last cursor seen>`` and gets every event once, in order.
``publish`` never blocks and never waits for a slow subscriber; one that falls further behind
than the buffer gets :class:`ChannelGap` rather than a silently incomplete answer.

What is kept is bounded twice: per channel (``max_events``) and in all (``max_kept``). Without
the second bound the hub held every event of every conversation of the last ``retention_s``,
18 KB per streamed answer of 40 chunks: a process serving 20 such answers a second held 110 MB
and, for its collector, 270,000 more objects to walk. Past ``max_kept`` the channels nobody
listens to that were used longest ago are forgotten first, as the retention would later.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace

from ..events import Event
from .names import ChannelError, ChannelGap, check_channel

log = logging.getLogger(__name__)


class _Channel:
    __slots__ = ("events", "last_used", "next_cursor", "subscribers", "wakeup")

    def __init__(self, max_events: int) -> None:
        self.events: deque[Event] = deque(maxlen=max_events)
        self.next_cursor = 1
        self.wakeup: asyncio.Event | None = None
        self.last_used = time.monotonic()
        self.subscribers = 0

    @property
    def oldest(self) -> int:
        """The cursor of the first event still kept (``next_cursor`` when none is)."""
        return self.next_cursor - len(self.events)


class ChannelHub:
    """Implements :class:`runtime.ports.EventPublisher` plus ``subscribe``.

    ``max_events`` bounds each channel's buffer; a channel nobody listens to is forgotten
    ``retention_s`` after its last event, or sooner once all channels keep more than
    ``max_kept`` events (``AKIS_CHANNEL_KEPT_EVENTS``; the ones used longest ago first).
    """

    available = True  # nothing between a run and its subscribers can go down

    def __init__(self, *, max_events: int = 10_000, retention_s: float = 300.0, max_kept: int = 100_000) -> None:
        if max_events < 1 or max_kept < 1:
            raise ChannelError("max_events and max_kept must be at least 1")
        self.max_events = max_events
        self.retention_s = retention_s
        self.max_kept = max_kept
        self.kept = 0  # events in all channels' buffers
        self.forgotten = 0  # channels forgotten before their retention, to keep under max_kept
        self._trim_above = max_kept
        self._channels: dict[str, _Channel] = {}
        self._closed = False
        self._next_sweep = time.monotonic() + retention_s

    def publish(self, channel: str, event: Event) -> None:
        """Keep the event and wake the channel's subscribers; O(1) amortised, never blocks."""
        if self._closed:
            return
        state = self._channels.get(channel)
        if state is None:
            check_channel(channel)
            state = self._channels[channel] = _Channel(self.max_events)
        state.next_cursor += 1
        events = state.events
        if len(events) < self.max_events:  # a full buffer drops its oldest as it appends
            self.kept += 1
        events.append(event)  # its cursor is added when it is read (_follow): most events never are
        state.last_used = time.monotonic()
        if state.wakeup is not None:
            state.wakeup.set()
            state.wakeup = None
        if state.last_used >= self._next_sweep:
            self._sweep(state.last_used)
        if self.kept > self._trim_above:
            self._forget_oldest()

    def last_cursor(self, channel: str) -> int:
        """The cursor of the newest event on ``channel`` (0 when there is none)."""
        state = self._channels.get(check_channel(channel))
        return state.next_cursor - 1 if state is not None else 0

    async def cursor(self, channel: str) -> int:
        """Same as :meth:`last_cursor`, awaitable like the Redis hub's."""
        return self.last_cursor(channel)

    def subscribe(self, channel: str, after: int | None = None) -> AsyncIterator[Event]:
        """Events on ``channel``: with ``after=None`` only those published from this call on;
        with ``after=n`` every kept event whose cursor is greater than ``n`` first (``after=0``:
        all that is kept). The start is fixed when this is called, so subscribing and then
        starting a run never misses its first events.

        Ends when the hub is closed. Raises :class:`ChannelGap` if events the subscriber
        needs were already dropped.
        """
        check_channel(channel)
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel(self.max_events)
        last = state.next_cursor - 1
        if after is None or after < 0:
            position = last
        elif after > last:
            position = 0  # a cursor from before the channel was forgotten: replay what is kept
        else:
            position = after
        return self._follow(channel, state, position)

    async def _follow(self, channel: str, state: _Channel, position: int) -> AsyncIterator[Event]:
        current = self._channels.get(channel)
        if current is None:  # re-attach if it was forgotten meanwhile
            current = self._channels[channel] = state
            self.kept += len(state.events)
        state = current
        state.subscribers += 1
        try:
            while not self._closed:
                if state.next_cursor - 1 > position:
                    if position + 1 < state.oldest:
                        raise ChannelGap(channel, position, state.oldest)
                    first = position + 1
                    batch = list(itertools.islice(state.events, first - state.oldest, None))
                    for offset, event in enumerate(batch):
                        position = first + offset
                        yield replace(event, extra={**event.extra, "cursor": position})
                    continue
                if state.wakeup is None:
                    state.wakeup = asyncio.Event()
                await state.wakeup.wait()
        finally:
            state.subscribers -= 1
            state.last_used = time.monotonic()

    def _sweep(self, now: float) -> None:
        """Forget channels idle for longer than the retention that nobody listens to."""
        self._next_sweep = now + self.retention_s / 4
        stale = [
            name
            for name, state in self._channels.items()
            if state.subscribers == 0 and now - state.last_used > self.retention_s
        ]
        for name in stale:
            self.kept -= len(self._channels.pop(name).events)

    def _forget_oldest(self) -> None:
        """Past ``max_kept``: forget the idle channels used longest ago until a tenth of the room
        is free again (so this sorts the channels once per ``max_kept / 10`` events, not per event).
        Channels someone listens to stay; if they alone hold too much, try again 10% later."""
        room = self.max_kept // 10
        idle = sorted((state.last_used, name) for name, state in self._channels.items() if state.subscribers == 0)
        forgotten, youngest = self.forgotten, 0.0
        for last_used, name in idle:
            if self.kept <= self.max_kept - room:
                break
            self.kept -= len(self._channels.pop(name).events)
            self.forgotten += 1
            youngest = last_used
        if forgotten == 0 and self.forgotten:  # the first time only: the log is not a stream of them
            log.warning("the in-process channel hub keeps at most %d events (AKIS_CHANNEL_KEPT_EVENTS): "
                        "conversations idle for %.0f s and longer were forgotten before their %g s retention",
                        self.max_kept, time.monotonic() - youngest, self.retention_s)
        self._trim_above = max(self.max_kept, self.kept + room)

    def lost(self, channel: str, run_id: str) -> int:
        """Events not relayed: never any in-process (the same question as the Redis hub's)."""
        return 0

    def health(self) -> dict[str, object]:
        return {"available": True, "outages": 0, "dropped": 0}

    def channels(self) -> list[str]:
        return list(self._channels)

    async def flush(self) -> None:
        """Nothing to wait for in-process (present so every hub can be flushed alike)."""

    async def aclose(self) -> None:
        """End every subscription."""
        self._closed = True
        for state in self._channels.values():
            if state.wakeup is not None:
                state.wakeup.set()
                state.wakeup = None
