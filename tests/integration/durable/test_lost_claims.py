"""A run popped from the queue by a worker that died before taking its row is not lost: the
workers' reaper queues it again after the lease, and it executes once. Nor is a run whose web
process died between storing its row and queueing it."""
from __future__ import annotations

import uuid

from storage.db import Database
from storage.durable import rows
from storage.durable.queue import RunQueue
from storage.recorder import NO_LABELS
from tests.integration.api.harness import trivial_flow

from .stack import LEASE_S, TENANT, Stack, stored_run, wait_for


async def test_a_claim_whose_worker_died_before_taking_the_row_is_queued_again(stack: Stack) -> None:
    database = Database(stack.database_url)
    queue = RunQueue(stack.redis_url, prefix=stack.prefix)
    lost, settled = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        for run_id in (lost, settled):
            database.call_statement(rows.create_queued, TENANT, run_id, "lost", flow_version=None,
                                    session_id=f"s-{run_id}", inputs={"user_message": "hi"}, labels=NO_LABELS,
                                    document=trivial_flow("lost"), start_cursor=0, trace_parent=None)
            await queue.enqueue(TENANT, run_id, limit=10_000, tenant_limit=1_000)
        # a worker pops both and dies before taking either row: nothing is queued any more
        popped = {(await queue.claim()).run_id, (await queue.claim()).run_id}  # type: ignore[union-attr]
        assert popped == {lost, settled} and await queue.depth() == 0
        # one of them was taken and finished by some worker meanwhile: the reaper only forgets it
        database.call(rows.end_unheld, TENANT, settled, "cancelled", "cancelled while queued")
        stack.start_worker()
        wait_for(lambda: stored_run(stack, lost).status == "succeeded", "the lost run to execute",
                 limit_s=LEASE_S * 20)
        run = stored_run(stack, lost)
        assert run.attempts == 1 and run.worker  # executed once, by the new worker
        assert stored_run(stack, settled).status == "cancelled"  # not queued again, not executed
        wait_for(lambda: not stack_claims(stack), "the claims to be settled", limit_s=LEASE_S * 20)
        assert await queue.depth() == 0
    finally:
        await queue.aclose()
        database.dispose()


async def test_a_run_stored_but_never_queued_is_queued_by_the_reaper(stack: Stack) -> None:
    database = Database(stack.database_url)
    queue = RunQueue(stack.redis_url, prefix=stack.prefix)
    unqueued, waiting = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        for run_id in (unqueued, waiting):  # the web stored both; it died before queueing the first
            database.call_statement(rows.create_queued, TENANT, run_id, "lost", flow_version=None,
                                    session_id=f"s-{run_id}", inputs={"user_message": "hi"}, labels=NO_LABELS,
                                    document=trivial_flow("lost"), start_cursor=0, trace_parent=None)
        await queue.enqueue(TENANT, waiting, limit=10_000, tenant_limit=1_000)
        assert not await queue.restore(TENANT, waiting)  # on its tenant's list: left alone
        assert await queue.depth() == 1
        stack.start_worker()
        for run_id in (waiting, unqueued):
            wait_for(lambda run_id=run_id: stored_run(stack, run_id).status == "succeeded",  # type: ignore[misc]
                     f"run {run_id} to execute", limit_s=LEASE_S * 20)
            assert stored_run(stack, run_id).attempts == 1  # once each
        assert "was stored but never queued" in stack.worker_logs()
        assert await queue.depth() == 0
    finally:
        await queue.aclose()
        database.dispose()


def stack_claims(stack: Stack) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    try:
        return list(client.zrange(f"{stack.prefix}runq:claims", 0, -1))
    finally:
        client.close()
