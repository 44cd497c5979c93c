"""A background job orphaned by a dead worker is run again within 30 s with the default
settings: arq's in-progress mark, which keeps other workers off a job, is set by the worker
taking the job for at most 30 s; and the app waits for a result long enough to see the retry."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from storage.jobs import ArqRunner
from storage.jobs.codec import ORPHAN_RETRY_S

from .jobs_helpers import RedisNames, save_job
from .test_worker_kill import ROOT, wait_for


def start_default_worker(redis_url: str, database_url: str, queue: str, markers: Path,
                         log: Path) -> subprocess.Popen[bytes]:
    """``akis worker`` with the default job timeout and in-progress mark (no test overrides)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(AKIS_REDIS_URL=redis_url, AKIS_DATABASE_URL=database_url, AKIS_TEST_MARKERS=str(markers),
               AKIS_QUEUE_PREFIX=queue.removesuffix("jobs"))  # the test's own keys, run queue included
    command = [sys.executable, "-m", "storage.cli", "worker", "--executor",
               "tests.integration.storage.worker_app:factory", "--queue", queue, "--poll-delay", "0.05"]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_an_orphaned_job_is_free_again_within_30_s_and_the_app_waits_for_its_retry(db, redis_url, tmp_path):
    names = RedisNames(redis_url)
    markers = tmp_path / "markers"
    markers.mkdir()
    runner = ArqRunner(redis_url, queue_name=names.queue)
    job = save_job(names.run_id(0), 0, _hold="before")
    worker = start_default_worker(redis_url, db.url, names.queue, markers, tmp_path / "w.log")
    client = redis.Redis.from_url(redis_url)
    try:
        runner.submit(job)
        assert await runner.drain(10) == 0
        wait_for(lambda: (markers / f"{job.run_id}.node_7.holding").exists(), "the worker to hold the job")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        in_progress = list(client.scan_iter(match=f"arq:in-progress:*{names.token}*"))
        assert len(in_progress) == 1
        assert 0 < client.pttl(in_progress[0]) <= ORPHAN_RETRY_S * 1000 <= 30_000  # then any worker retries it
        assert runner.result_timeout_s >= ORPHAN_RETRY_S + 20  # the app still waits while the retry runs
    finally:
        if worker.poll() is None:
            worker.kill()
        client.close()
        await runner.aclose()
        await names.cleanup()
