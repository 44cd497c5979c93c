"""Background nodes (save_message): run after the response, in-process by default.

The same ``execute_job`` runs a job here or on a queue worker: a job carries the node's
rendered config, so it needs nothing from the run that queued it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from cachetools import LRUCache

from .. import tracing
from ..nodes.base import NodeContext
from ..nodes.registry import NodeRegistry
from ..ports import BackgroundJob, BackgroundOutcome
from ..services import Services
from . import spans
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
    if not tracing.enabled or not tracing.sampled(job.traceparent):  # off, or the run was not sampled
        await node_type.run(config, ctx)
        return
    # no context made current: an in-process job may be stepped in its run's context (see eager.py)
    start_ns = time.time_ns()
    try:
        await node_type.run(config, ctx)
    except Exception as exc:
        spans.end_background(job, start_ns, exc)
        raise
    spans.end_background(job, start_ns, None)


class InProcessBackgroundRunner:
    """Runs jobs on the running event loop, at most ``max_concurrency`` at once.

    Submitting the same (tenant, run, node) again returns the first job's future, as a queue
    refuses a job id it already has; the last ``remember`` jobs are remembered. ``drain`` waits
    a bounded time on shutdown and then cancels what is left, saying so.
    """

    def __init__(self, executor: Executor, *, max_concurrency: int = 32, remember: int = 10_000) -> None:
        self._executor = executor
        self._limit = asyncio.Semaphore(max_concurrency)
        self._jobs: LRUCache[tuple[str, str, str], asyncio.Future[BackgroundOutcome]] = LRUCache(remember)
        self._tasks: set[asyncio.Future[BackgroundOutcome]] = set()  # still running: what drain waits for
        self.completed = 0
        self.failed = 0
        self.observers: list[Callable[[BackgroundJob, BackgroundOutcome], None]] = []  # e.g. the app's metrics

    def submit(self, job: BackgroundJob) -> asyncio.Future[BackgroundOutcome]:
        key = (job.tenant_id, job.run_id, job.node_id)
        known = self._jobs.get(key)
        if known is not None:
            return known
        # stepped here first, a task only if it waits: an in-memory save never does
        # bench/bench_throughput.py: -5% without this (a task per save; callgrind instructions per run)
        done = run_eagerly(asyncio.get_running_loop(), self._run(job), name=f"akis-bg-{job.run_id}-{job.node_id}")
        self._jobs[key] = done
        if not done.done():
            self._tasks.add(done)
            done.add_done_callback(self._tasks.discard)
        return done

    async def _run(self, job: BackgroundJob) -> BackgroundOutcome:
        async with self._limit:
            started_at = time.time()
            t0 = time.perf_counter()
            try:
                await self._executor(job)
            except Exception as exc:  # noqa: BLE001 - a failed job is an outcome, reported and counted
                self.failed += 1
                log.warning("background node %s of run %s failed: %s", job.node_id, job.run_id, exc)
                outcome = BackgroundOutcome(job.node_id, "failed", _ms(t0), f"{type(exc).__name__}: {exc}", started_at)
            else:
                self.completed += 1
                outcome = BackgroundOutcome(job.node_id, "succeeded", _ms(t0), None, started_at)
        for observe in self.observers:
            observe(job, outcome)
        return outcome

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
