"""Background jobs on the app's own event loop: the default when no Redis is configured.

A job runs as soon as it is submitted, after the response (the engine submits once the run
has its result). Submitting the same (run, node) again returns the first job's outcome. On
shutdown, ``drain`` waits a bounded time and then cancels, reporting what it gave up.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from runtime.ports import BackgroundJob, BackgroundOutcome

from .codec import job_id

log = logging.getLogger(__name__)

Executor = Callable[[BackgroundJob], Awaitable[None]]


class InProcessRunner:
    def __init__(self, execute: Executor, *, max_concurrency: int = 32, remember: int = 10_000) -> None:
        self._execute = execute
        self._limit = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[BackgroundOutcome]] = set()
        self._recent: OrderedDict[str, asyncio.Task[BackgroundOutcome]] = OrderedDict()
        self._remember = remember
        self.completed = 0
        self.failed = 0

    def submit(self, job: BackgroundJob) -> asyncio.Task[BackgroundOutcome]:
        key = job_id(job)
        existing = self._recent.get(key)
        if existing is not None:
            return existing
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"akis-job-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._recent[key] = task
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return task

    async def _run(self, job: BackgroundJob) -> BackgroundOutcome:
        async with self._limit:
            started_at = time.time()
            t0 = time.perf_counter()
            try:
                await self._execute(job)
            except Exception as exc:
                self.failed += 1
                log.warning("background node %s of run %s failed: %s", job.node_id, job.run_id, exc)
                return BackgroundOutcome(job.node_id, "failed", _ms(t0), f"{type(exc).__name__}: {exc}", started_at)
            self.completed += 1
            return BackgroundOutcome(job.node_id, "succeeded", _ms(t0), None, started_at)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float = 10.0) -> int:
        """Wait up to ``timeout_s`` for queued jobs; cancel the rest. Returns how many were cancelled."""
        if not self._tasks:
            return 0
        _, unfinished = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
            log.warning("shutdown: %d background jobs did not finish within %.1f s", len(unfinished), timeout_s)
        return len(unfinished)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
