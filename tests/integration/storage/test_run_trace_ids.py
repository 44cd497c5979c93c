"""Runs keep their trace id (from the engine's events) and the dashboard's slowest-runs query."""
from __future__ import annotations

from datetime import timedelta

import pytest

from runtime.events import MESSAGE_CHUNK, NODE_FINISHED, RUN_FINISHED, RUN_STARTED, Event
from storage.recorder import RunRecorder
from storage.repos import dashboard, runs
from storage.repos.dashboard import Filters
from storage.types import utcnow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def events(run_id: str, *, started: dict | None = None, finished: dict | None = None) -> list[Event]:
    """A run's events as the engine sends them; ``started``/``finished`` are the two events' extra."""
    common = {"run_id": run_id, "flow_id": "support", "tenant_id": "2", "session_id": "abc123"}
    return [
        Event(RUN_STARTED, t_ms=0.0, index=0, extra=started or {}, **common),
        Event(MESSAGE_CHUNK, run_id, 5.0, 1, node_id="ai", text="hi", seq=0),
        Event(NODE_FINISHED, run_id, 9.0, 2, node_id="ai", node_type="ai_response", duration_ms=9.0, cache="off"),
        Event(RUN_FINISHED, t_ms=10.0, index=3, status="succeeded", duration_ms=10.0, output={"answer": "hi"},
              extra=finished or {}, **common),
    ]


async def record(db, run_id: str, **extras: dict) -> None:
    recorder = RunRecorder(db)
    recorder.expect(run_id, {"user_message": "hi"})
    for event in events(run_id, **extras):
        recorder.observe(event)
    await recorder.drain(5)
    assert recorder.recorded == 1


async def test_the_recorder_stores_the_trace_id_from_the_run_events(db):
    await record(db, "traced", started={"trace_id": TRACE}, finished={"trace_id": TRACE})
    await record(db, "finished-only", finished={"trace_id": TRACE})
    await record(db, "untraced")
    await record(db, "tracing-off", started={"trace_id": ""}, finished={"trace_id": ""})
    await record(db, "not-an-id", started={"trace_id": "<script>"}, finished={"trace_id": "0" * 32})
    stored = {r.id: r.trace_id for r in db.call(runs.list_runs, "2")}
    assert stored == {"traced": TRACE, "finished-only": TRACE, "untraced": None, "tracing-off": None,
                      "not-an-id": None}
    run = db.call(runs.get_run, "2", "traced")
    assert (run.status, run.first_chunk_ms, run.timings) == ("succeeded", 5.0, {"ai": 9.0})


def seed(db, tenant: str, durations: dict[str, float], flow: str = "support", minutes_ago: float = 10) -> None:
    started = utcnow() - timedelta(minutes=minutes_ago)
    for i, (run_id, ms) in enumerate(durations.items()):
        db.call(runs.record_run, tenant, run_id, flow, status="failed" if ms > 4000 else "succeeded",
                started_at=started + timedelta(seconds=i), duration_ms=ms, trace_id=f"{i:032x}")


def test_the_slowest_runs_are_the_tenants_in_the_range_slowest_first_and_bounded(db):
    seed(db, "2", {f"a{i}": 100.0 * i for i in range(15)})
    seed(db, "2", {"other-flow": 900.0}, flow="other")
    seed(db, "2", {"long-ago": 99_000.0}, minutes_ago=60 * 30)  # outside a 24-hour range
    seed(db, "5", {"b-slowest": 50_000.0, "b-slow": 40_000.0})  # another tenant's: never shown
    db.call(runs.record_run, "2", "no-duration", "support", status="cancelled")  # no duration: not ranked
    since, until = utcnow() - timedelta(hours=24), utcnow() + timedelta(seconds=1)
    found = db.call(runs.slowest_runs, "2", since, until)
    assert [r.id for r in found] == ["a14", "a13", "a12", "a11", "a10", "a9", "other-flow", "a8", "a7", "a6"]
    assert found[0].trace_id == f"{14:032x}" and found[0].duration_ms == 1400.0
    assert [r.id for r in db.call(runs.slowest_runs, "2", since, until, flow_id="other")] == ["other-flow"]
    assert len(db.call(runs.slowest_runs, "2", since, until, limit=10_000)) == 16  # at most 100; 16 timed in range
    assert [r.id for r in db.call(runs.slowest_runs, "5", since, until)] == ["b-slowest", "b-slow"]
    assert db.call(runs.slowest_runs, "7", since, until) == []
    data = db.call(dashboard.dashboard_data, Filters("2", since=since, until=until))
    assert [r.id for r in data.slowest][:3] == ["a14", "a13", "a12"] and len(data.slowest) == dashboard.SLOWEST
    assert all(r.tenant_id == "2" for r in data.slowest)
    narrowed = db.call(dashboard.dashboard_data, Filters("2", flow_id="other", since=since, until=until))
    assert [r.id for r in narrowed.slowest] == ["other-flow"]


@pytest.mark.parametrize("limit", [0, -3])
def test_a_limit_below_one_still_returns_one(db, limit):
    seed(db, "2", {"only": 5.0})
    assert [r.id for r in db.call(runs.slowest_runs, "2", utcnow() - timedelta(hours=1), limit=limit)] == ["only"]
