"""Queue mode's follower (``QueuedRuns.events``) reading a run's channel: it takes a failed
subscription up again, passes an event written twice once, and stops when the hub is closed."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from editor.services.queued_runs import QueuedRuns
from runtime.channels import ChannelUnavailable
from runtime.events import MESSAGE_CHUNK, RUN_FINISHED, Event


class ScriptedHub:
    """Each subscribe plays the next script: events (with their cursors), then an error or an end."""

    def __init__(self, *scripts: tuple[list[Event], BaseException | None]) -> None:
        self.scripts = list(scripts)
        self.subscribed_after: list[int] = []
        self.stops: list[asyncio.Event | None] = []

    async def subscribe(self, channel: str, after: int | None = None,
                        stop: asyncio.Event | None = None) -> AsyncIterator[Event]:
        self.subscribed_after.append(int(after or 0))
        self.stops.append(stop)
        if not self.scripts:
            return  # a closed hub: the subscription just ends
        events, error = self.scripts.pop(0)
        for event in events:
            yield event
        if error is not None:
            raise error


def chunk(index: int, cursor: int, run_id: str = "r1") -> Event:
    return Event(MESSAGE_CHUNK, run_id, 0.0, index=index, text=f"c{index}", extra={"cursor": cursor})


class RunningRow:
    """The run's row says it is still running whenever the follower reads it."""

    status = "running"

    async def run(self, fn: Any, *args: Any) -> RunningRow:
        return self


def follower(hub: ScriptedHub) -> QueuedRuns:
    return QueuedRuns(cast(Any, RunningRow()), cast(Any, hub), cast(Any, None), limit=10, tenant_limit=10)


async def test_a_dropped_subscription_is_taken_up_again_and_repeats_pass_once() -> None:
    finished = Event(RUN_FINISHED, "r1", 1.0, index=3, status="succeeded", extra={"cursor": 15})
    hub = ScriptedHub(([chunk(0, 11), chunk(1, 12, "other run"), chunk(1, 13)], ChannelUnavailable("redis away")),
                      ([chunk(1, 14), chunk(2, 14), finished], None))  # index 1 again: a retried write
    seen = [e async for e in follower(hub).events("2", "r1", "tenant.2.conversation.s", 10)]
    assert [(e.event, e.index) for e in seen] == [(MESSAGE_CHUNK, 0), (MESSAGE_CHUNK, 1), (MESSAGE_CHUNK, 2),
                                                  (RUN_FINISHED, 3)]
    assert hub.subscribed_after == [10, 13]  # resumed after the last cursor read
    assert hub.stops[-1] is not None and hub.stops[-1].is_set()  # run.finished: the reader ends, uncancelled
    assert hub.stops[0] is hub.stops[-1]  # one stop for the whole follow, through its resubscriptions


async def test_the_reader_stops_when_the_hub_is_closed() -> None:
    inbox: asyncio.Queue[Event | BaseException] = asyncio.Queue()
    await asyncio.wait_for(follower(ScriptedHub())._read("r1", "tenant.2.conversation.s", 0, inbox, asyncio.Event()),
                           2.0)
