"""Queue mode's fence on a run's channel events: once a worker takes a run over (attempt 2), the
events of the attempt before it (a worker that lost the lease without knowing yet) are refused
by Redis, so followers never get two attempts' events under one index. And a worker can wait
until what it published is written (its checkpoints follow its chunks)."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio.connection import AbstractConnection

from runtime.channels import channel_name
from runtime.channels.redis_hub import RedisChannelHub
from runtime.events import MESSAGE_CHUNK, Event


def chunk(run_id: str, index: int, text: str) -> Event:
    return Event(MESSAGE_CHUNK, run_id, 0.0, index=index, node_id="ai", text=text)


async def test_a_takeover_fences_off_the_earlier_attempts_events(redis_url: str) -> None:
    hub = RedisChannelHub(redis_url, prefix=f"akis:test{uuid.uuid4().hex[:8]}:")
    channel, run_id = channel_name("2", uuid.uuid4().hex), uuid.uuid4().hex
    try:
        start = await hub.cursor(channel)
        hub.publish(channel, chunk(run_id, 0, "first "), (run_id, 1))
        await hub.flush()
        await hub.raise_fence(channel, run_id, 2)
        hub.publish(channel, chunk(run_id, 1, "zombie "), (run_id, 1))  # the old attempt, still going
        hub.publish(channel, chunk(run_id, 1, "second "), (run_id, 2))
        hub.publish(channel, chunk("another-run", 0, "other "), ("another-run", 1))  # not fenced
        await hub.raise_fence(channel, run_id, 1)  # a fence is never lowered
        hub.publish(channel, chunk(run_id, 2, "again "), (run_id, 1))
        await hub.flush()
        texts = []
        async with asyncio.timeout(5):
            async for event in hub.subscribe(channel, after=start):
                texts.append(event.text)
                if len(texts) == 3:
                    break
        assert texts == ["first ", "second ", "other "]
        assert await hub.cursor(channel) == start + 3  # nothing else was appended
    finally:
        await hub.aclose()


async def test_settled_waits_for_what_was_published_before_the_mark(redis_url: str) -> None:
    hub = RedisChannelHub(redis_url, prefix=f"akis:test{uuid.uuid4().hex[:8]}:")
    channel, run_id = channel_name("2", uuid.uuid4().hex), uuid.uuid4().hex
    try:
        start = await hub.cursor(channel)
        for i in range(50):
            hub.publish(channel, chunk(run_id, i, f"w{i} "))
        mark = hub.mark()
        await asyncio.wait_for(hub.settled(mark), 10)
        assert await hub.cursor(channel) == start + 50  # all 50 are in the channel already
    finally:
        await hub.aclose()


async def test_a_stopped_subscription_ends_after_its_read_and_keeps_its_connection(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A follower stops reading at ``run.finished`` by ``stop``, not by cancelling its blocked
    read: a cancelled read closes its connection and the next run paid for a new one."""
    connects: list[object] = []
    on_connect = AbstractConnection.on_connect

    async def counted(connection: AbstractConnection) -> None:
        connects.append(connection)
        await on_connect(connection)

    monkeypatch.setattr(AbstractConnection, "on_connect", counted)
    hub = RedisChannelHub(redis_url, prefix=f"akis:test{uuid.uuid4().hex[:8]}:", block_ms=100)
    channel, run_id = channel_name("2", uuid.uuid4().hex), uuid.uuid4().hex
    try:
        for n in range(5):
            start = await hub.cursor(channel)
            hub.publish(channel, chunk(run_id, n, f"t{n} "))
            stop = asyncio.Event()
            async with asyncio.timeout(5):
                async for event in hub.subscribe(channel, after=start, stop=stop):
                    assert event.text == f"t{n} "
                    stop.set()  # the generator ends once the read under way returns (no more events)
        assert 1 <= len(connects) <= 3  # the cursor's, the writer's, the reader's: none made again per run
    finally:
        await hub.aclose()
