"""The in-memory conversation store is bounded (per session, sessions, messages in all) and still
reads the most recent messages in order; a long-lived Engine's memory stops growing with it."""
from __future__ import annotations

import asyncio
import gc
import tracemalloc
from functools import partial

import pytest

from runtime import Engine, Services, load_flow
from runtime.engine.background import InProcessBackgroundRunner, execute_job
from runtime.nodes.registry import default_registry
from runtime.ports import ChatMessage
from runtime.services import MemoryConversationStore
from runtime.settings import AkisSettings
from runtime.wiring import build_services

from .flows import flow, node


async def turn(store: MemoryConversationStore, session: str, text: str, run_id: str | None = None,
               tenant: str = "1") -> int:
    first = await store.next_seq(tenant, session)
    return await store.save(tenant, session, [ChatMessage("user", text, first, run_id),
                                              ChatMessage("assistant", f"re: {text}", first + 1, run_id)])


async def test_a_session_keeps_its_last_messages_in_order():
    store = MemoryConversationStore(max_session_messages=200)
    for i in range(300):
        await turn(store, "s", f"q{i}", f"r{i}")
    assert store.message_count == 200 and store.session_count == 1
    kept = await store.history("1", "s", 200)
    assert [m.seq for m in kept] == list(range(400, 600))
    assert [m.content for m in kept[-4:]] == ["q298", "re: q298", "q299", "re: q299"]
    last = await store.history("1", "s", 5)
    assert [m.seq for m in last] == [595, 596, 597, 598, 599]
    assert await store.history("1", "s", 1000) == kept
    assert await store.next_seq("1", "s") == 600
    # a retried save of a dropped turn is skipped as already stored, not stored again at the front
    assert await store.save("1", "s", [ChatMessage("user", "old", 10, "r5")]) == 0
    assert (await store.history("1", "s", 1))[0].seq == 599


async def test_idempotent_saves_and_out_of_order_turns():
    store = MemoryConversationStore()
    assert await turn(store, "s", "a", "run-1") == 2
    assert await store.save("1", "s", [ChatMessage("user", "a again", 7, "run-1")]) == 0  # same run and role
    assert await store.save("1", "s", [ChatMessage("user", "dup", 0)]) == 0  # same seq
    assert await store.save("1", "s", [ChatMessage("user", "turn 3", 6), ChatMessage("user", "turn 2", 4)]) == 2
    assert [m.seq for m in await store.history("1", "s", 10)] == [0, 1, 4, 6]
    assert await store.next_seq("1", "s") == 7
    assert store.message_count == 4


async def test_least_recently_used_sessions_go_first():
    store = MemoryConversationStore(max_sessions=100)
    for i in range(100):
        await turn(store, f"s{i}", "hi")
    await store.history("1", "s0", 2)  # read: s0 is now the most recent
    for i in range(100, 150):
        await turn(store, f"s{i}", "hi")
    assert store.session_count == 100 and store.message_count == 200
    assert len(await store.history("1", "s0", 2)) == 2
    assert await store.history("1", "s1", 2) == [] and await store.next_seq("1", "s1") == 0
    assert len(await store.history("1", "s149", 2)) == 2


async def test_messages_in_all_are_bounded_and_reads_create_nothing():
    store = MemoryConversationStore(max_sessions=1000, max_session_messages=10, max_messages=50)
    for i in range(40):
        for _ in range(5):
            await turn(store, f"s{i}", "x")
    assert store.message_count <= 50 and store.session_count == 5
    assert [len(await store.history("1", f"s{i}", 100)) for i in range(35, 40)] == [10] * 5
    for i in range(1000):
        assert await store.history("1", f"never-{i}", 5) == []
        assert await store.next_seq("2", f"never-{i}") == 0
    assert store.session_count == 5


def test_limits_are_checked_and_come_from_settings():
    with pytest.raises(ValueError):
        MemoryConversationStore(max_sessions=0)
    with pytest.raises(ValueError):
        MemoryConversationStore(max_session_messages=300, max_messages=100)
    settings = AkisSettings(memory_conversation_sessions=7, memory_conversation_session_messages=3,
                            memory_conversation_messages=30)
    store = build_services(settings).conversations
    assert isinstance(store, MemoryConversationStore)
    assert (store.max_sessions, store.max_session_messages, store.max_messages) == (7, 3, 30)
    default = MemoryConversationStore()
    assert (default.max_sessions, default.max_session_messages, default.max_messages) == (10_000, 200, 100_000)


class NoMetrics:
    def record(self, row: object) -> None:
        pass

    async def flush(self) -> None:
        pass


GROWTH_LIMIT = 256 * 1024  # bytes over 3,000 runs once the store is full; unbounded, it grew ~650 KB per 1,000


async def test_a_long_lived_engine_stops_growing():
    """3,000 runs in 3,000 sessions on an engine whose store is full: the store stays at its bound
    and traced memory does not grow (the metrics and background records, bounded elsewhere at
    100,000 and 10,000, are kept out of the measure)."""
    store = MemoryConversationStore(max_sessions=500)
    registry = default_registry()
    services = Services(conversations=store)
    engine = Engine(registry=registry, services=services, metrics=NoMetrics(),
                    background=InProcessBackgroundRunner(partial(execute_job, registry=registry, services=services),
                                                         remember=100))
    plan = load_flow(
        flow(
            [
                node("in", "user_input"),
                node("out", "output", fields={"answer": "ok {{ user_message }}"}),
                node("save", "save_message", answer="ok {{ user_message }}"),
            ],
            [("in", "out"), ("out", "save")],
        )
    )

    async def runs(start: int, count: int) -> None:
        results = await asyncio.gather(*(engine.run(plan, {"user_message": f"hello {i}", "session_id": f"s{i}"})
                                         for i in range(start, start + count)))
        assert all(r.status == "succeeded" for r in results), results[0].error
        await asyncio.gather(*[future for r in results for future in r.background])

    tracemalloc.start()
    try:
        await runs(0, 1000)  # fills the store (500 sessions of 2 messages)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for start in range(1000, 4000, 500):
            await runs(start, 500)
            assert store.session_count == 500 and store.message_count == 1000
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < GROWTH_LIMIT, f"grew {growth:,} bytes over 3,000 runs"
    latest = await store.history("1", "s3999", 10)
    assert [(m.role, m.content) for m in latest] == [("user", "hello 3999"), ("assistant", "ok hello 3999")]
    assert await store.history("1", "s0", 10) == []
