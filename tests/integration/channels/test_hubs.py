"""What every hub promises, in-process and through Redis: order, cursors, replay, resume,
gaps reported, isolation between channels, clean shutdown."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runtime.channels import ChannelError, ChannelGap, channel_name
from runtime.events import MESSAGE_CHUNK, RUN_FINISHED, RUN_STARTED, Event

CHANNEL = channel_name("2", "abc123")


def chunk(i: int, text: str | None = None, run_id: str = "r1", node: str = "ai") -> Event:
    return Event(MESSAGE_CHUNK, run_id, float(i), index=i, node_id=node, node_type="ai_response",
                 text=text if text is not None else f"c{i} ", seq=i)


async def take(stream: AsyncIterator[Event], count: int, timeout_s: float = 5.0) -> list[Event]:
    out: list[Event] = []

    async def read() -> None:
        async for event in stream:
            out.append(event)
            if len(out) == count:
                return

    await asyncio.wait_for(read(), timeout_s)
    return out


async def test_live_subscriber_gets_every_event_in_order_with_cursors(hub: Any) -> None:
    stream = hub.subscribe(CHANNEL, after=await hub.cursor(CHANNEL))
    reader = asyncio.create_task(take(stream, 50))
    await asyncio.sleep(0.05)
    for i in range(50):
        hub.publish(CHANNEL, chunk(i))
    got = await reader
    assert [e.seq for e in got] == list(range(50))
    assert [e.extra["cursor"] for e in got] == list(range(1, 51))
    assert got[7].to_dict() == {**chunk(7).to_dict(), "cursor": 8}
    await stream.aclose()


async def test_events_survive_the_trip_unchanged(hub: Any) -> None:
    finished = Event(RUN_FINISHED, "r1", 12.5, index=9, status="succeeded", flow_id="f", tenant_id="2",
                     session_id="abc123", output={"answer": "Işık 😀", "products": [{"sku": "TP-1", "kg": 2500}]},
                     usage={"tokens_in": 3, "tokens_out": 4}, extra={"partial": False})
    hub.publish(CHANNEL, finished)
    await hub.flush()
    got = await take(hub.subscribe(CHANNEL, after=0), 1)
    assert got[0].to_dict() == {**finished.to_dict(), "cursor": 1}
    assert got[0].output == finished.output and got[0].usage == finished.usage


async def test_late_subscriber_replays_what_is_kept(hub: Any) -> None:
    for i in range(20):
        hub.publish(CHANNEL, chunk(i))
    await hub.flush()
    got = await take(hub.subscribe(CHANNEL, after=0), 20)
    assert "".join(e.text or "" for e in got) == "".join(f"c{i} " for i in range(20))


async def test_resume_after_a_disconnect_gets_each_event_once(hub: Any) -> None:
    for i in range(10):
        hub.publish(CHANNEL, chunk(i))
    await hub.flush()
    first = hub.subscribe(CHANNEL, after=0)
    half = await take(first, 4)
    await first.aclose()  # the client goes away
    for i in range(10, 20):
        hub.publish(CHANNEL, chunk(i))  # and misses these while away
    await hub.flush()
    rest = await take(hub.subscribe(CHANNEL, after=half[-1].extra["cursor"]), 16)
    assert [e.seq for e in half + rest] == list(range(20))


async def test_subscriber_that_comes_back_too_late_is_told(make_hub: Callable[..., Any]) -> None:
    small = make_hub(max_events=5)
    for i in range(400):  # Redis trims whole stream nodes ("MAXLEN ~"), so publish well past them
        small.publish(CHANNEL, chunk(i))
    await small.flush()
    with pytest.raises(ChannelGap) as caught:
        await take(small.subscribe(CHANNEL, after=3), 1)
    assert caught.value.after == 3 and caught.value.oldest > 4
    resumed = await take(small.subscribe(CHANNEL, after=caught.value.oldest - 1), 1)
    assert resumed[0].extra["cursor"] == caught.value.oldest


async def test_channels_are_isolated(hub: Any) -> None:
    mine, theirs = channel_name("2", "abc123"), channel_name("3", "abc123")
    hub.publish(theirs, chunk(0, "secret", run_id="other"))
    hub.publish(mine, chunk(0, "hello"))
    hub.publish(theirs, chunk(1, "secret", run_id="other"))
    await hub.flush()
    got = await take(hub.subscribe(mine, after=0), 1)
    assert [e.text for e in got] == ["hello"]
    stream = hub.subscribe(mine, after=1)
    with pytest.raises(asyncio.TimeoutError):
        await take(stream, 1, timeout_s=0.3)  # nothing else arrives on mine


def test_publishing_to_a_bad_channel_is_refused(hub: Any) -> None:
    with pytest.raises(ChannelError):
        hub.publish("tenant.2.conversation.abc.tenant.3", chunk(0))


async def test_closing_the_hub_ends_subscriptions(make_hub: Callable[..., Any]) -> None:
    closing = make_hub()
    hub_events: list[Event] = []

    async def listen() -> None:
        async for event in closing.subscribe(CHANNEL, after=0):
            hub_events.append(event)

    listener = asyncio.create_task(listen())
    closing.publish(CHANNEL, Event(RUN_STARTED, "r1", 0.0))
    for _ in range(200):
        if hub_events:
            break
        await asyncio.sleep(0.01)
    await closing.aclose()
    await asyncio.wait_for(listener, 5.0)
    assert [e.event for e in hub_events] == [RUN_STARTED]


async def test_a_cursor_from_before_a_restart_replays_what_is_kept(hub: Any) -> None:
    hub.publish(CHANNEL, chunk(0, "new run"))
    await hub.flush()
    got = await take(hub.subscribe(CHANNEL, after=57), 1)  # the client's cursor predates the channel
    assert got[0].text == "new run"


async def test_in_process_start_is_fixed_when_subscribing() -> None:
    from runtime.channels import ChannelHub

    hub = ChannelHub()
    hub.publish(CHANNEL, chunk(0, "before"))
    stream = hub.subscribe(CHANNEL)  # not iterated yet
    hub.publish(CHANNEL, chunk(1, "after"))
    got = await take(stream, 1)
    assert [e.text for e in got] == ["after"]
    await hub.aclose()


async def test_in_process_the_published_event_stays_as_it_was() -> None:
    """The hub keeps the event itself (no copy per publish) and adds the cursor to what a reader
    gets: the event the engine's other listeners hold never gains one, whoever reads it."""
    from runtime.channels import ChannelHub

    hub = ChannelHub()
    events = [chunk(i) for i in range(3)]
    for event in events:
        hub.publish(CHANNEL, event)
    first, second = await take(hub.subscribe(CHANNEL, after=0), 3), await take(hub.subscribe(CHANNEL, after=1), 2)
    assert [e.extra["cursor"] for e in first] == [1, 2, 3] and [e.extra["cursor"] for e in second] == [2, 3]
    assert all("cursor" not in e.extra for e in events) and [e.seq for e in first] == [0, 1, 2]
    await hub.aclose()


async def test_idle_channels_are_forgotten_after_the_retention() -> None:
    from runtime.channels import ChannelHub

    hub = ChannelHub(retention_s=0.0)
    hub.publish(channel_name("2", "old"), chunk(0))
    await asyncio.sleep(0.01)
    hub.publish(CHANNEL, chunk(0))  # publishing sweeps
    assert hub.channels() == [CHANNEL]
    await hub.aclose()
    hub.publish(CHANNEL, chunk(1))  # after close: ignored, not an error
    assert hub.last_cursor(CHANNEL) == 1


async def test_build_hub_follows_the_settings() -> None:
    from runtime.channels import ChannelHub, build_hub
    from runtime.channels.redis_hub import RedisChannelHub
    from runtime.settings import AkisSettings

    assert isinstance(build_hub(AkisSettings(_env_file=None, redis_url="")), ChannelHub)  # type: ignore[call-arg]
    remote = build_hub(AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0"))  # type: ignore[call-arg]
    assert isinstance(remote, RedisChannelHub)  # no connection is made until it is used
    await remote.aclose()


async def test_in_process_what_is_kept_in_all_channels_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Past ``max_kept`` events in all, the idle channels used longest ago are forgotten first
    (a tenth of the room freed at once); a channel someone listens to stays."""
    from runtime.channels import ChannelHub

    hub = ChannelHub(max_kept=100, max_events=50)
    names = [channel_name("2", f"s{n}") for n in range(10)]
    listened = hub.subscribe(names[0])
    hub.publish(names[0], chunk(0))
    assert len(await take(listened, 1)) == 1  # attached: channel 0 has a listener from here on
    with caplog.at_level("WARNING", logger="runtime.channels.memory"):
        for name in names:
            for i in range(1 if name == names[0] else 0, 30):
                hub.publish(name, chunk(i))
    assert len(await take(listened, 29)) == 29
    kept = {name: hub.last_cursor(name) for name in hub.channels()}
    assert hub.kept <= hub.max_kept
    assert names[0] in kept and names[-1] in kept  # listened to; used last
    assert names[1] not in kept and names[2] not in kept  # idle, used longest ago
    assert hub.forgotten == 10 - len(kept)
    assert hub.kept == 30 * len(kept)  # the count follows what the buffers hold
    assert caplog.text.count("keeps at most 100 events (AKIS_CHANNEL_KEPT_EVENTS)") == 1
    # a forgotten conversation starts again from what is kept: its next event only
    hub.publish(names[1], chunk(30, "again"))
    assert [e.text for e in await take(hub.subscribe(names[1], after=0), 1)] == ["again"]
    await hub.aclose()


async def test_in_process_a_full_channel_keeps_the_count_right() -> None:
    from runtime.channels import ChannelHub

    hub = ChannelHub(max_kept=1000, max_events=5)
    for i in range(20):
        hub.publish(CHANNEL, chunk(i))  # the buffer drops its oldest: 5 kept, not 20
    assert hub.kept == 5 and hub.forgotten == 0
    await hub.aclose()


def test_the_setting_bounds_the_in_process_hub() -> None:
    from pydantic import ValidationError

    from runtime.channels import ChannelHub, build_hub
    from runtime.settings import AkisSettings

    hub = build_hub(AkisSettings(_env_file=None, redis_url="", channel_kept_events=5000))  # type: ignore[call-arg]
    assert isinstance(hub, ChannelHub) and hub.max_kept == 5000
    assert build_hub(AkisSettings(_env_file=None, redis_url="")).max_kept == 100_000  # type: ignore[call-arg,union-attr]
    with pytest.raises(ValidationError, match="channel_kept_events"):
        AkisSettings(_env_file=None, channel_kept_events=10)  # type: ignore[call-arg]
