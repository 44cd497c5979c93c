"""Background nodes (save_message): run after the response, in-process by default.

The same ``execute_job`` runs a job here or on a queue worker: a job carries the node's
rendered config, so it needs nothing from the run that queued it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from ..nodes.base import NodeContext
from ..nodes.registry import NodeRegistry
from ..ports import BackgroundJob, BackgroundOutcome
from ..services import Services

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
    """Runs jobs as tasks on the running event loop; ``drain`` waits for them on shutdown."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._tasks: set[asyncio.Task[BackgroundOutcome]] = set()

    def submit(self, job: BackgroundJob) -> asyncio.Task[BackgroundOutcome]:
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"akis-bg-{job.run_id}-{job.node_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, job: BackgroundJob) -> BackgroundOutcome:
        started_at = time.time()
        t0 = time.perf_counter()
        try:
            await self._executor(job)
        except Exception as exc:
            log.warning("background node %s of run %s failed: %s", job.node_id, job.run_id, exc)
            return BackgroundOutcome(job.node_id, "failed", _ms(t0), f"{type(exc).__name__}: {exc}", started_at)
        return BackgroundOutcome(job.node_id, "succeeded", _ms(t0), None, started_at)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
