"""A worker process killed with SIGKILL loses no job and duplicates no message.

Worker 1 takes two jobs, then is killed while one is still running (not saved yet) and one
has saved but not reported back; three more wait in the queue. Worker 2 then runs all five,
the two interrupted ones a second time, and every message is stored exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.jobs import ArqRunner
from storage.repos import messages

from .jobs_helpers import RedisNames, save_job

ROOT = Path(__file__).resolve().parents[3]
IN_PROGRESS_S = 1.5  # how long a dead worker's claim on a job lasts (arq: job timeout + 10 s)


def start_worker(names: RedisNames, database_url: str, markers: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(PYTHONFAULTHANDLER="1",  # SIGABRT makes a hung worker print every thread's stack
               AKIS_REDIS_URL=names.redis_url, AKIS_DATABASE_URL=database_url, AKIS_TEST_MARKERS=str(markers),
               AKIS_QUEUE_PREFIX=names.prefix)  # its run queue too is this test's own (not the default keys)
    command = [sys.executable, "-m", "storage.cli", "worker",
               "--executor", "tests.integration.storage.worker_app:factory", "--queue", names.queue,
               "--max-jobs", "2", "--job-timeout", "30", "--in-progress-timeout", str(IN_PROGRESS_S),
               "--poll-delay", "0.05"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM and wait; one still running after 15 s is killed and the test fails with its log."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGABRT)  # faulthandler: where each of its threads is stuck, into the log
        try:
            worker.wait(5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        tail = log.read_text(errors="replace").splitlines()[-120:] if log.exists() else []
        pytest.fail("a worker did not stop within 15 s of SIGTERM; its log ends:\n" + "\n".join(tail))


def wait_for(condition, what: str, limit_s: float = 60.0) -> None:
    """Poll until ``condition()``; the limit only bounds a hung test, it asserts no timing."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def tries(markers: Path) -> Counter[str]:
    log = markers / "tries.log"
    return Counter(line.split()[0] for line in log.read_text().splitlines()) if log.exists() else Counter()


async def test_sigkill_while_jobs_run_and_wait_loses_and_duplicates_nothing(db, redis_url, tmp_path):
    names = RedisNames(redis_url)
    markers = tmp_path / "markers"
    markers.mkdir()
    runner = ArqRunner(redis_url, queue_name=names.queue)
    jobs = [
        save_job(names.run_id(0), 0, _hold="after"),  # saves, then hangs before reporting: retry must be a no-op
        save_job(names.run_id(1), 1, turn=0, _hold="before"),  # hangs before saving: retry must save it
        *[save_job(names.run_id(n), n, turn=n % 2) for n in range(2, 5)],  # queued behind them
    ]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for job in jobs:
            runner.submit(job)
        assert await runner.drain(10) == 0
        workers.append(start_worker(names, db.url, markers, tmp_path / "worker1.log"))
        wait_for(lambda: all((markers / f"{j.run_id}.node_7.holding").exists() for j in jobs[:2]),
                 "worker 1 to hold both jobs")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        assert sum(tries(markers).values()) == 2  # the three others never started
        assert [len(db.call(messages.history, "2", s, 10)) for s in ("s0", "s1")] == [2, 0]  # saved / not yet

        workers.append(start_worker(names, db.url, markers, tmp_path / "worker2.log"))
        keys = [f"{j.run_id}.node_7" for j in jobs]
        wait_for(lambda: all(tries(markers)[k] >= (2 if i < 2 else 1) for i, k in enumerate(keys)),
                 "worker 2 to run every job")
        for job in jobs:
            outcome = await runner.submit(job)  # already known: follows the stored result
            assert outcome.status == "succeeded", outcome.error
    finally:
        try:
            for n, worker in enumerate(workers, start=1):
                stop_worker(worker, tmp_path / f"worker{n}.log")
        finally:
            await runner.aclose()
            await names.cleanup()
    with db.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT session_id, seq, role, content FROM conversation_messages WHERE tenant_id = '2'")).all()
    by_session = Counter(session for session, *_ in rows)
    assert by_session == {f"s{n}": 2 for n in range(5)}, rows  # every exchange stored exactly once
    assert len({(session, seq) for session, seq, *_ in rows}) == len(rows) == 10
    assert {(s, role, c) for s, _, role, c in rows} >= {("s0", "user", "question 0"), ("s1", "assistant", "answer 1")}
