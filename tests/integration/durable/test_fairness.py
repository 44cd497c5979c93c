"""One tenant's burst does not starve another: tenant A has 500 runs queued, tenant B queues
one, and a worker (2 at once) starts B's run second: tenants are served in turn."""
from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from storage.db import Database
from storage.durable import rows
from storage.durable.queue import RunQueue
from storage.models import Run
from storage.recorder import NO_LABELS
from tests.integration.api.harness import sse_events, trivial_flow

from .stack import OTHER, TENANT, Stack

BURST = 500


async def test_a_burst_of_one_tenant_does_not_starve_another(stack: Stack) -> None:
    app = stack.start_app()
    database = Database(stack.database_url)
    queue = RunQueue(stack.redis_url, prefix=stack.prefix)
    document = trivial_flow("burst")
    burst = [uuid.uuid4().hex for _ in range(BURST)]
    try:
        for run_id in burst:  # what the web process does for each of A's runs, without 500 requests
            database.call_statement(rows.create_queued, TENANT, run_id, "burst", flow_version=None, session_id="s-a",
                                    inputs={"user_message": "a"}, labels=NO_LABELS, document=document,
                                    start_cursor=0, trace_parent=None)
            await queue.enqueue(TENANT, run_id, limit=10_000, tenant_limit=1_000)
        headers = {"Authorization": f"Bearer {stack.other_token}"}
        async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=120.0) as client:
            assert (await client.post("/api/flows", json=trivial_flow("single"))).status_code == 201
            async with client.stream("POST", "/api/flows/single/runs", json={"inputs": {"user_message": "b"}},
                                     headers={"Accept": "text/event-stream"}) as response:
                single = response.headers["x-akis-run-id"]
                assert await queue.depth() == BURST + 1
                stack.start_worker(concurrency=2)  # the queue is full when the worker starts
                final = [e async for e in sse_events(response)][-1]
        assert final.event == "run.finished" and final.data["status"] == "succeeded"
        with database.session() as session:
            b_run = session.get(Run, single)
            assert b_run is not None and b_run.tenant_id == OTHER and b_run.heartbeat_at is not None
            started_before = session.exec(select(func.count()).select_from(Run).where(
                Run.tenant_id == TENANT, col(Run.attempts) > 0, col(Run.heartbeat_at) < b_run.heartbeat_at)).one()
        assert started_before <= 1, f"{started_before} of A's runs started before B's single run"
    finally:
        await queue.aclose()
        database.dispose()
