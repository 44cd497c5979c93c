"""Background jobs on the arq queue: enqueue, dedupe, run by a worker, retry."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from storage.jobs import ArqRunner
from storage.jobs.defaults import engine_executor
from storage.jobs.worker import WorkerOptions, build_worker
from storage.repos import messages

from .jobs_helpers import RedisNames, save_job

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")  # inside arq


async def run_worker_until_empty(options: WorkerOptions, factory=engine_executor) -> None:
    worker = build_worker(replace(options, burst=True, handle_signals=False, poll_delay_s=0.05), factory)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_queued_jobs_run_on_a_worker_exactly_once(db, redis_url):
    names = RedisNames(redis_url)
    runner = ArqRunner(redis_url, queue_name=names.queue, poll_interval_s=0.05)
    try:
        jobs = [save_job(names.run_id(n), n, turn=0) for n in range(3)]
        submitted_at = time.time()
        futures = [runner.submit(j) for j in jobs]
        assert runner.submit(jobs[0]) is futures[0]  # same (run, node): the same job
        assert await runner.drain(5) == 0
        assert not any(f.done() for f in futures)  # queued, nobody ran them yet
        options = WorkerOptions(redis_url=redis_url, database_url=db.url, queue_name=names.queue)
        await run_worker_until_empty(options)
        outcomes = await asyncio.gather(*futures)
        assert [o.status for o in outcomes] == ["succeeded"] * 3
        assert all(o.started_at >= submitted_at for o in outcomes)
        # enqueueing a finished job again is a no-op: its result is still in Redis
        again = runner.submit(jobs[1])
        assert (await again).status == "succeeded"
        await run_worker_until_empty(options)
        for n in range(3):
            rows = db.call(messages.history, "2", f"s{n}", 10)
            assert [(m.seq, m.content) for m in rows] == [(0, f"question {n}"), (1, f"answer {n}")]
    finally:
        await runner.aclose()
        await names.cleanup()


async def test_a_failing_job_is_retried_then_reported_failed(db, redis_url):
    names = RedisNames(redis_url)
    runner = ArqRunner(redis_url, queue_name=names.queue, poll_interval_s=0.05)
    tries: list[int] = []

    def factory(services):
        real = engine_executor(services)

        async def execute(job):
            tries.append(1)
            if len(tries) < 2:
                raise ConnectionError("database restarting")
            if job.node_id == "broken":
                raise ValueError("still broken")
            await real(job)

        return execute

    try:
        flaky = runner.submit(save_job(names.run_id(1), 1, turn=0))
        broken = runner.submit(replace(save_job(names.run_id(2), 2), node_id="broken"))
        options = WorkerOptions(redis_url=redis_url, database_url=db.url, queue_name=names.queue, max_tries=2,
                                retry_backoff_s=0.01, max_jobs=1)
        await run_worker_until_empty(options, factory)
        flaky_outcome, broken_outcome = await flaky, await broken
        assert flaky_outcome.status == "succeeded"
        assert broken_outcome.status == "failed" and "still broken" in broken_outcome.error
        assert len(db.call(messages.history, "2", "s1", 10)) == 2
    finally:
        await runner.aclose()
        await names.cleanup()

