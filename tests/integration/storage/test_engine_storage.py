"""The engine on storage: the result comes back before save_message has run, the exchange is
stored once, metrics and the run row land in the database."""
from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest

from runtime import Engine, default_registry
from runtime.engine.background import execute_job
from runtime.services import Services
from storage.conversations import SqlConversationStore
from storage.jobs import ArqRunner, InProcessRunner
from storage.jobs.worker import WorkerOptions, build_worker
from storage.metrics_sink import SqlMetricsSink
from storage.recorder import RunRecorder
from storage.repos import messages, metrics, runs

from .jobs_helpers import RedisNames

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")  # inside arq

FLOW = {
    "akis": 1, "flow_id": "chat", "name": "Chat",
    "nodes": [
        {"id": "node_1", "type": "user_input"},
        {"id": "node_6", "type": "ai_response", "config": {"provider_options": {
            "delay_ms": 0, "tokens_per_second": 0, "text": "Try the TP-2500 pallet jack."}}},
        {"id": "node_7", "type": "save_message"},
        {"id": "node_8", "type": "output", "config": {"fields": {"answer": "{{ answer }}"}}},
    ],
    "edges": [{"source": "node_1", "target": "node_6"}, {"source": "node_6", "target": "node_7"},
              {"source": "node_6", "target": "node_8"}],
}
INPUTS = {"user_message": "Transpalet arıyorum", "tenant_id": "2", "session_id": "abc123"}


class GatedStore(SqlConversationStore):
    """Saves only after the test opens the gate, so "before" is decided by the test, not a clock."""

    def __init__(self, database, gate: asyncio.Event) -> None:
        super().__init__(database)
        self.gate = gate

    async def save(self, tenant_id, session_id, messages_):
        await self.gate.wait()
        return await super().save(tenant_id, session_id, messages_)


async def test_in_process_the_result_returns_before_the_message_is_saved(db):
    gate = asyncio.Event()
    services = Services(conversations=GatedStore(db, gate))
    registry = default_registry()
    runner = InProcessRunner(partial(execute_job, registry=registry, services=services))
    sink = SqlMetricsSink(db, interval_s=3600)
    engine = Engine(registry=registry, services=services, background=runner, metrics=sink)

    result = await engine.run(FLOW, INPUTS)
    returned_at = time.time()
    assert result.status == "succeeded" and result.output["answer"] == "Try the TP-2500 pallet jack."
    assert [f.done() for f in result.background] == [False]
    assert db.call(messages.history, "2", "abc123", 10) == []  # nothing stored yet
    gate.set()
    outcome = await result.background[0]
    assert outcome.status == "succeeded"
    assert outcome.started_at + outcome.duration_ms / 1000 >= returned_at  # the job finished after the result
    stored = db.call(messages.history, "2", "abc123", 10)
    assert [(m.role, m.content) for m in stored] == [("user", "Transpalet arıyorum"),
                                                      ("assistant", "Try the TP-2500 pallet jack.")]
    await asyncio.sleep(0)  # let the engine's done-callback record the background metric
    await sink.flush()
    per_type = {s.key: s.count for s in db.call(metrics.summary, "2")}
    assert per_type == {"user_input": 1, "ai_response": 1, "output": 1, "save_message": 1}
    await sink.aclose()


async def test_with_a_queue_the_job_starts_after_the_result(db, redis_url):
    names = RedisNames(redis_url)
    runner = ArqRunner(redis_url, queue_name=names.queue, poll_interval_s=0.05)
    engine = Engine(registry=default_registry(), services=Services(conversations=SqlConversationStore(db)),
                    background=runner)
    try:
        result = await engine.run(FLOW, {**INPUTS, "session_id": f"q{names.token}"})
        returned_at = time.time()
        assert await runner.drain(5) == 0
        options = WorkerOptions(redis_url=redis_url, database_url=db.url, queue_name=names.queue,
                                burst=True, handle_signals=False, poll_delay_s=0.05)
        worker = build_worker(options, lambda services: partial(execute_job, registry=default_registry(),
                                                                services=services))
        try:
            await worker.main()
        finally:
            await worker.close()
        outcome = await result.background[0]
        assert outcome.status == "succeeded"
        assert outcome.started_at >= returned_at  # measured by the job's own start time
        assert len(db.call(messages.history, "2", f"q{names.token}", 10)) == 2
    finally:
        await runner.aclose()
        await names.cleanup()


async def test_a_recorded_run_has_its_timings_and_output(db):
    recorder = RunRecorder(db)
    engine = Engine(registry=default_registry(), services=Services(conversations=SqlConversationStore(db)))
    handle = engine.start(FLOW, INPUTS, on_event=recorder.observe)
    recorder.expect(handle.run_id, INPUTS, flow_version=1)
    result = await handle.result()
    await result.wait_background()
    await recorder.drain()
    run = db.call(runs.get_run, "2", handle.run_id)
    assert run is not None and recorder.recorded == 1
    assert (run.status, run.flow_id, run.flow_version, run.session_id) == ("succeeded", "chat", 1, "abc123")
    assert run.inputs["user_message"] == "Transpalet arıyorum"
    assert run.output == result.output and set(run.timings) == {"node_1", "node_6", "node_8"}
    assert run.first_chunk_ms is not None and run.duration_ms >= run.first_chunk_ms
    assert run.id == result.run_id


async def test_recording_a_streamed_run_as_the_cli_would(db):
    recorder = RunRecorder(db, inputs=INPUTS)
    engine = Engine(registry=default_registry(), services=Services(conversations=SqlConversationStore(db)))
    events = [event async for event in engine.stream(FLOW, INPUTS)]
    for event in events:
        recorder.observe(event)
    await recorder.drain()
    run = db.call(runs.list_runs, "2")[0]
    assert run.id == events[0].run_id and run.inputs == INPUTS and run.status == "succeeded"
    assert run.flow_version is None  # a file, not a stored version
