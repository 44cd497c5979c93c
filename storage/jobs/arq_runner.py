"""Background jobs on an arq queue in Redis, run by ``akis worker`` processes.

``submit`` enqueues under a job id derived from (tenant, run, node), so a duplicate submit is
a no-op, and returns a future for the outcome. One poller per runner reads the results of
every pending job in a single Redis round trip per interval, however many are waiting.
A job whose worker dies stays in Redis and is retried by the next worker (arq's in-progress
key expires); saving a message is idempotent, so a retry never duplicates a row.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from runtime.ports import BackgroundJob, BackgroundOutcome
from runtime.redis_clients import RedisTimeouts, arq_pool, job_timeouts

from .codec import (
    JOB_FUNCTION,
    QUEUE_NAME,
    RESULT_WAIT_S,
    deserialize,
    job_id,
    job_to_dict,
    outcome_from_dict,
    serialize,
)

log = logging.getLogger(__name__)


class ArqRunner:
    def __init__(
        self,
        redis_url: str,
        *,
        queue_name: str = QUEUE_NAME,
        poll_interval_s: float = 0.2,
        result_timeout_s: float = RESULT_WAIT_S,
        timeouts: RedisTimeouts | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.timeouts = timeouts or job_timeouts()  # connect and socket: a paused Redis fails a job, never hangs it
        self.queue_name = queue_name
        self.poll_interval_s = poll_interval_s
        self.result_timeout_s = result_timeout_s
        self._pool: Any = None
        self._pool_lock: asyncio.Lock | None = None
        self._enqueues: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, tuple[BackgroundJob, float, asyncio.Future[BackgroundOutcome]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def pool(self) -> Any:
        """The arq connection, created on first use (``arq_pool`` imports arq only then).

        One attempt, bounded by the timeouts: a job that cannot be queued fails at once (it is
        reported like any failed background node) rather than waiting for arq's retries."""
        if self._pool is None:
            if self._pool_lock is None:
                self._pool_lock = asyncio.Lock()
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await arq_pool(
                        self.redis_url, self.timeouts, default_queue_name=self.queue_name,
                        job_serializer=serialize, job_deserializer=deserialize,
                    )
        return self._pool

    @property
    def pending(self) -> int:
        """Jobs this process queued whose result has not come back yet."""
        return len(self._waiting)

    async def queue_depth(self) -> int | None:
        """Jobs waiting in the shared queue (every process's), or None when Redis does not answer."""
        try:
            pool = await self.pool()
            return int(await pool.zcard(self.queue_name))
        except Exception as exc:  # noqa: BLE001 - a depth that cannot be read is unknown, not an error
            log.debug("queue depth not read: %s", exc)
            return None

    # -- the port -----------------------------------------------------------------------------
    def submit(self, job: BackgroundJob) -> asyncio.Future[BackgroundOutcome]:
        loop = asyncio.get_running_loop()
        key = job_id(job)
        waiting = self._waiting.get(key)
        if waiting is not None:
            return waiting[2]
        future: asyncio.Future[BackgroundOutcome] = loop.create_future()
        self._waiting[key] = (job, time.monotonic(), future)
        task = loop.create_task(self._enqueue(key, job, future), name=f"akis-enqueue-{key}")
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)
        return future

    async def drain(self, timeout_s: float = 10.0) -> int:
        """Wait until every submitted job is safely in Redis (results are the worker's business).

        Returns how many could not be enqueued in time.
        """
        if not self._enqueues:
            return 0
        _, unfinished = await asyncio.wait(set(self._enqueues), timeout=timeout_s)
        if unfinished:
            log.warning("shutdown: %d background jobs were not enqueued within %.1f s", len(unfinished), timeout_s)
        return len(unfinished)

    async def aclose(self) -> None:
        await self.drain()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        for _, _, future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    # -- internals ----------------------------------------------------------------------------
    async def _enqueue(self, key: str, job: BackgroundJob, future: asyncio.Future[BackgroundOutcome]) -> None:
        try:
            pool = await self.pool()
            queued = await pool.enqueue_job(JOB_FUNCTION, job_to_dict(job), _job_id=key, _queue_name=self.queue_name)
        except Exception as exc:  # noqa: BLE001 - whatever stops the enqueue fails the job, never the run
            log.warning("could not queue background node %s of run %s: %s", job.node_id, job.run_id, exc)
            self._waiting.pop(key, None)
            if not future.done():
                future.set_result(BackgroundOutcome(job.node_id, "failed", 0.0, f"not queued: {exc}", time.time()))
            return
        if queued is None:
            log.info("background job %s was already queued; following the first one", key)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="akis-job-results")

    async def _poll(self) -> None:
        """Resolve futures from arq's result keys, one pipelined read for all pending jobs."""
        # arq only once a job was queued: the default install runs without Redis
        from arq.constants import result_key_prefix
        from arq.jobs import deserialize_result

        while self._waiting:
            await asyncio.sleep(self.poll_interval_s)
            keys = list(self._waiting)
            try:
                pool = await self.pool()
                async with pool.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.get(result_key_prefix + key)
                    raw = await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - a Redis blip of any kind: try again next interval
                log.warning("reading background job results failed: %s", exc)
                continue
            now = time.monotonic()
            for key, data in zip(keys, raw, strict=True):
                job, since, future = self._waiting[key]
                if data is not None:
                    info = deserialize_result(data, deserializer=deserialize)
                    self._resolve(key, _outcome(job, info))
                elif now - since > self.result_timeout_s:
                    self._resolve(key, BackgroundOutcome(
                        job.node_id, "queued", 0.0,
                        f"no result after {self.result_timeout_s:.0f} s; is an `akis worker` running?", 0.0,
                    ))
                elif future.cancelled():
                    self._waiting.pop(key, None)

    def _resolve(self, key: str, outcome: BackgroundOutcome) -> None:
        _, _, future = self._waiting.pop(key)
        if not future.done():
            future.set_result(outcome)


def _outcome(job: BackgroundJob, info: Any) -> BackgroundOutcome:
    """The worker returns an outcome dict; an arq-level failure (timeout, max tries) is one too."""
    if info.success and isinstance(info.result, dict):
        return outcome_from_dict(info.result)
    duration = round((info.finish_time - info.start_time).total_seconds() * 1000, 3)
    return BackgroundOutcome(job.node_id, "failed", duration, str(info.result), info.start_time.timestamp())
