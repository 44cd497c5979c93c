"""A queued run's ticket (storage/durable/ticket.py): the worker that pops a first attempt takes
the row with one statement and starts the run from the ticket; a run whose row is not its to take
(cancelled while it was popped) runs no node and writes nothing. A run queued again has no
ticket: its row is read.
Real PostgreSQL (a private schema) and Redis (a private prefix)."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.settings import AkisSettings
from storage.db import Database, init_db
from storage.durable import rows
from storage.durable.executor import RunExecutor
from storage.durable.queue import TICKET_TTL_MS, RunQueue
from storage.durable.ticket import make_ticket, read_ticket
from storage.durable.wiring import runs_factory
from storage.recorder import NO_LABELS, RunLabels
from tests.integration.api.harness import trivial_flow
from tests.integration.storage.conftest import PgSchema

from .conftest import delete_prefix

TENANT = "2"


@dataclass
class Worker:
    database: Database
    queue: RunQueue
    executor: RunExecutor


@pytest.fixture
async def worker(postgres_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Worker]:
    """A worker's run executor in this process (its loops not started: the test calls it)."""
    schema = PgSchema(postgres_url)
    prefix = f"akis:test{uuid.uuid4().hex[:8]}:"
    settings = AkisSettings(database_url=schema.url, redis_url=redis_url, queue_prefix=prefix, run_mode="queue",
                            warmup_interval_s=0, data_dir=tmp_path, secret_key="tickets")
    database = init_db(schema.url, seed_demo=False)
    executor = runs_factory(settings, 1, f"{prefix}jobs")(database)
    queue = RunQueue(redis_url, prefix=prefix)
    try:
        yield Worker(database, queue, executor)
    finally:
        await executor.stop(2.0)
        await queue.aclose()
        database.dispose()
        await delete_prefix(redis_url, prefix)
        schema.drop()


def store(database: Database, run_id: str, labels: RunLabels = NO_LABELS) -> str:
    """Store a queued run as the web process does; its ticket."""
    run, request = database.call_statement(
        rows.create_queued, TENANT, run_id, "echo", flow_version=3, session_id=f"s-{run_id}",
        inputs={"user_message": "hi", "session_id": f"s-{run_id}"}, labels=labels, document=trivial_flow(),
        start_cursor=7, trace_parent={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    return make_ticket(run, request)


def test_a_ticket_carries_what_the_row_and_request_hold(tmp_path: Path) -> None:
    database = init_db(f"sqlite:///{tmp_path / 'akis.db'}", seed_demo=False)
    try:
        ticket = store(database, "r1", RunLabels("exp1", "B", None))
        claim = read_ticket(TENANT, "r1", ticket.encode())
        stored = database.call(rows.claim_run, TENANT, "r1", "w1", 15.0)
    finally:
        database.dispose()
    assert claim is not None and stored is not None
    for field in ("flow_id", "flow_version", "session_id", "inputs", "experiment_id", "variant", "evaluation_id",
                  "attempts", "status"):
        assert getattr(claim.run, field) == getattr(stored.run, field), field
    assert stored.request is not None and claim.request is not None
    for field in ("document", "start_cursor", "trace_parent"):
        assert getattr(claim.request, field) == getattr(stored.request, field), field
    assert claim.known == {}


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"{}", b'{"flow_id": "x"}', b"[1, 2]"])
def test_a_ticket_this_version_cannot_read_means_the_row_is_read(raw: bytes | None) -> None:
    assert read_ticket(TENANT, "r1", raw) is None


async def test_the_claim_takes_the_ticket_once(worker: Worker) -> None:
    run_id = uuid.uuid4().hex
    await worker.queue.enqueue(TENANT, run_id, limit=100, tenant_limit=100, ticket='{"a": 1}')
    assert 0 < await worker.queue.client.pttl(worker.queue.ticket_key(run_id)) <= TICKET_TTL_MS  # never kept for ever
    first = await worker.queue.claim()
    assert first is not None and first.run_id == run_id and first.ticket == b'{"a": 1}'
    assert not await worker.queue.client.exists(worker.queue.ticket_key(run_id))  # taken with the claim
    assert await worker.queue.requeue(TENANT, run_id)  # a lost claim, queued again by the reaper
    again = await worker.queue.claim()
    assert again is not None and again.run_id == run_id and again.ticket is None  # its row is read


async def test_a_run_started_from_its_ticket_executes_once(worker: Worker) -> None:
    run_id = uuid.uuid4().hex
    ticket = json.loads(store(worker.database, run_id))
    ticket["document"]["nodes"][1]["config"]["template"] = "from the ticket: {{ user_message }}"  # not the row's
    await asyncio.wait_for(worker.executor.execute(TENANT, run_id, False, json.dumps(ticket)), 30)
    run = worker.database.call(rows.status_of, TENANT, run_id)
    assert run is not None and run.status == "succeeded" and run.attempts == 1, (run.status, run.error)
    assert run.output == {"answer": "from the ticket: hi"}  # started without reading the request's row
    assert run_id not in worker.executor.held


async def test_a_run_whose_row_was_not_its_to_take_runs_no_node_and_writes_nothing(worker: Worker) -> None:
    run_id = uuid.uuid4().hex
    ticket = store(worker.database, run_id)
    # cancelled after the worker popped it (the claim saw no cancel) and before it took the row
    assert worker.database.call(rows.end_unheld, TENANT, run_id, "cancelled", "cancelled while starting")
    seen: list[str] = []
    worker.executor.observe = lambda tenant, flow: lambda event: seen.append(event.event)
    await asyncio.wait_for(worker.executor.execute(TENANT, run_id, False, ticket), 30)
    # no node ran: a side effect made here would be made again by the attempt that takes the row
    assert seen == []
    run = worker.database.call(rows.status_of, TENANT, run_id)
    assert run is not None and (run.status, run.attempts, run.worker) == ("cancelled", 0, None)
    assert run.output is None  # this worker wrote nothing
    assert run_id not in worker.executor.held and worker.executor.executed == 0
