"""Background nodes (save_message): run after the response, in-process by default.

The same ``execute_job`` runs a job here or on a queue worker: a job carries the node's
rendered config, so it needs nothing from the run that queued it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from functools import partial
from typing import Any, Awaitable, Callable

from ..nodes.base import NodeContext
from ..nodes.registry import NodeRegistry
from ..ports import BackgroundJob, BackgroundOutcome
from ..services import Services
from .eager import run_eagerly

log = logging.getLogger("akis.background")
Executor = Callable[[BackgroundJob], Awaitable[None]]


async def execute_job(job: BackgroundJob, registry: NodeRegistry, services: Services) -> None:
    """Run one background node. Raises on failure so a queue can retry it."""
    node_type = registry.get(job.node_type, job.tenant_id)
    if node_type is None:
        raise LookupError(f"background node {job.node_id!r}: unknown node type {job.node_type!r}")
    config = node_type.Config.model_validate(job.config)
    ctx = NodeContext(job.run_id, job.flow_id, job.tenant_id, job.session_id, job.node_id, {}, services)
    await node_type.run(config, ctx)


class InProcessBackgroundRunner:
    """Runs jobs on the running event loop, at most ``max_concurrency`` at once. A job is stepped
    at once and becomes a task only if it waits (an in-memory save never does).

    Submitting the same (tenant, run, node) again returns the first job's outcome; ``drain``
    waits a bounded time on shutdown and then cancels what is left, saying so.
    """

    def __init__(self, executor: Executor, *, max_concurrency: int = 32, remember: int = 10_000) -> None:
        self._executor = executor
        self._limit = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Future[BackgroundOutcome]] = set()
        # a job's future while it runs, then its outcome as a plain tuple (a finished task keeps its
        # coroutine; a tuple of plain values is one object the collector stops tracking)
        self._recent: OrderedDict[str, asyncio.Future[BackgroundOutcome] | tuple[Any, ...]] = OrderedDict()
        self._remember = remember
        self.completed = 0
        self.failed = 0

    def submit(self, job: BackgroundJob) -> asyncio.Future[BackgroundOutcome]:
        key = f"{job.tenant_id}\x1f{job.run_id}\x1f{job.node_id}"  # a string: no tuple per remembered job
        existing = self._recent.get(key)
        loop = asyncio.get_running_loop()
        if type(existing) is tuple:
            done: asyncio.Future[BackgroundOutcome] = loop.create_future()
            done.set_result(BackgroundOutcome(*existing))
            return done
        if existing is not None:
            return existing
        # stepped here first: a job that never waits (the in-memory save) needs no task at all
        task = run_eagerly(loop, self._run(job), name=f"akis-bg-{job.run_id}-{job.node_id}")
        if task.done():
            self._recent[key] = _kept(task)
        else:
            self._tasks.add(task)
            task.add_done_callback(partial(self._finished, key))
            self._recent[key] = task
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return task

    def _finished(self, key: str, task: asyncio.Future[BackgroundOutcome]) -> None:
        self._tasks.discard(task)
        if self._recent.get(key) is task:
            self._recent[key] = _kept(task)

    async def _run(self, job: BackgroundJob) -> BackgroundOutcome:
        async with self._limit:
            started_at = time.time()
            t0 = time.perf_counter()
            try:
                await self._executor(job)
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


def _kept(done: asyncio.Future[BackgroundOutcome]) -> asyncio.Future[BackgroundOutcome] | tuple[Any, ...]:
    """What to remember of a finished job: its outcome's values, or the future if it has none."""
    if done.cancelled() or done.exception() is not None:
        return done
    outcome = done.result()
    return (outcome.node_id, outcome.status, outcome.duration_ms, outcome.error, outcome.started_at)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
