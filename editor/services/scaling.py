"""The scaling signal: queue depth, runs in flight per worker, run latency (docs/deploy.md).

Read from the runs table (``storage.repos.run_load``), which every instance and worker keeps
current, so any web instance answers for the whole cluster; plus what only this process knows
(its own runs in flight, its background-job queue). One snapshot serves every reader for
``max_age_s`` (the readiness probes of every balancer and a Prometheus scrape may come every
second), and concurrent readers share one database read.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.db import Database
from storage.repos.run_load import RunLoad, run_load

WINDOW_S = 300.0  # run latency over the runs that started in the last five minutes


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.5: the median), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass(frozen=True)
class Scaling:
    """One reading. ``queue_depth`` and ``running_per_worker`` are the cluster's; ``in_process``
    and ``job_queue`` this process's view."""

    queue_depth: int
    oldest_queued_s: float | None
    running_per_worker: dict[str, int]
    lease_expired: int
    in_process: int
    job_queue: int | None
    latency: dict[str, float | int | None] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"queue_depth": self.queue_depth, "oldest_queued_s": self.oldest_queued_s,
                "running": sum(self.running_per_worker.values()), "running_per_worker": self.running_per_worker,
                "lease_expired": self.lease_expired, "in_process": self.in_process, "job_queue": self.job_queue,
                "latency": self.latency, **({"error": self.error} if self.error else {})}


def latency(load: RunLoad) -> dict[str, float | int | None]:
    return {"window_s": WINDOW_S, "runs": len(load.durations_ms),
            "p50_ms": percentile(load.durations_ms, 0.5), "p99_ms": percentile(load.durations_ms, 0.99),
            "first_chunk_p50_ms": percentile(load.first_chunk_ms, 0.5),
            "first_chunk_p99_ms": percentile(load.first_chunk_ms, 0.99)}


class ScalingService:
    def __init__(self, database: Database, in_process: Callable[[], int],
                 job_queue: Callable[[], Awaitable[int | None]] | None = None, max_age_s: float = 2.0) -> None:
        self.database = database
        self.in_process = in_process
        self.job_queue = job_queue
        self.max_age_s = max_age_s
        self.last: Scaling | None = None
        self._read_at = -math.inf
        self._reading: asyncio.Task[Scaling] | None = None

    async def read(self) -> Scaling:
        """The current reading: at most ``max_age_s`` old; never raises (an error is in the reading)."""
        if self.last is not None and time.monotonic() - self._read_at < self.max_age_s:
            return self.last
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read())
        return await asyncio.shield(self._reading)

    async def _read(self) -> Scaling:
        now = datetime.now(UTC)
        error = None
        try:
            load = await asyncio.wait_for(self.database.run(run_load, now - timedelta(seconds=WINDOW_S)), 5.0)
        except Exception as exc:  # noqa: BLE001 - a probe reports what it can
            load, error = RunLoad(), f"runs not read: {type(exc).__name__}"
        jobs = None
        if self.job_queue is not None:
            try:
                jobs = await asyncio.wait_for(self.job_queue(), 2.0)
            except Exception:  # noqa: BLE001 - the job queue's depth is optional
                jobs = None
        oldest = load.oldest_queued_at
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        reading = Scaling(
            queue_depth=load.queued,
            oldest_queued_s=round((now - oldest).total_seconds(), 3) if oldest is not None else None,
            running_per_worker=load.running_per_worker, lease_expired=load.lease_expired,
            in_process=self.in_process(), job_queue=jobs, latency=latency(load), error=error)
        self.last, self._read_at = reading, time.monotonic()
        return reading
