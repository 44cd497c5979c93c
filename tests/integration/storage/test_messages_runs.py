"""Conversation messages (idempotent saves) and run records."""
from __future__ import annotations

import asyncio

from runtime.ports import ChatMessage
from storage.conversations import SqlConversationStore
from storage.repos import messages, runs


def exchange(seq: int, run_id: str | None = None) -> list[ChatMessage]:
    return [
        ChatMessage("user", f"question {seq}", seq, run_id),
        ChatMessage("assistant", f"answer {seq}", seq + 1, run_id),
    ]


def test_saving_twice_never_duplicates(db):
    assert db.call(messages.save_messages, "2", "abc123", exchange(0)) == 2
    assert db.call(messages.save_messages, "2", "abc123", exchange(0)) == 0
    rows = db.call(messages.history, "2", "abc123", 10)
    assert [(m.seq, m.role, m.content) for m in rows] == [(0, "user", "question 0"), (1, "assistant", "answer 0")]


def test_a_retried_run_that_picked_new_seqs_is_still_a_no_op(db):
    """save_message without a turn asks next_seq at run time; a retry gets a later seq."""
    assert db.call(messages.save_messages, "2", "s", exchange(0, "run-1")) == 2
    retry_seq = db.call(messages.next_seq, "2", "s")
    assert db.call(messages.save_messages, "2", "s", exchange(retry_seq, "run-1")) == 0
    assert db.call(messages.save_messages, "2", "s", exchange(retry_seq, "run-2")) == 2
    assert [m.seq for m in db.call(messages.history, "2", "s", 10)] == [0, 1, 2, 3]


def test_history_is_the_last_messages_oldest_first(db):
    for seq in range(0, 10, 2):
        db.call(messages.save_messages, "2", "s", exchange(seq))
    assert [m.seq for m in db.call(messages.history, "2", "s", 3)] == [7, 8, 9]
    assert db.call(messages.history, "2", "s", 0) == []
    assert db.call(messages.next_seq, "2", "s") == 10
    assert db.call(messages.next_seq, "2", "other") == 0


async def test_the_port_saves_concurrently_without_duplicates(db):
    store = SqlConversationStore(db)
    results = await asyncio.gather(*[store.save("2", "c", exchange(0, "r")) for _ in range(6)])
    assert sum(results) == 2
    history = await store.history("2", "c", 10)
    assert [(m.role, m.seq, m.run_id) for m in history] == [("user", 0, "r"), ("assistant", 1, "r")]
    assert await store.next_seq("2", "c") == 2


def test_record_run_writes_once_and_lists_newest_first(db):
    assert db.call(runs.record_run, "2", "r1", "f", status="succeeded", duration_ms=5.0, inputs={"x": object()},
                   flow_version=3, output={"answer": "hello"}, timings={"node_1": 1.5}, first_chunk_ms=2.0)
    assert not db.call(runs.record_run, "2", "r1", "f", status="failed")
    db.call(runs.record_run, "2", "r2", "g", status="failed", error="boom")
    assert [r.id for r in db.call(runs.list_runs, "2")] == ["r2", "r1"]
    assert [r.id for r in db.call(runs.list_runs, "2", "f")] == ["r1"]
    run = db.call(runs.get_run, "2", "r1")
    assert (run.status, run.output, run.timings, run.flow_version) == (
        "succeeded",
        {"answer": "hello"},
        {"node_1": 1.5},
        3,
    )
    assert run.started_at.tzinfo is not None and run.finished_at >= run.started_at
    assert isinstance(db.call(runs.get_run, "2", "r1").inputs["x"], str)  # made JSON-safe
