"""``akis worker``: runs queued background jobs and warms the cache on schedule.

Any number of workers on any machine share one Redis queue. The node code is injected: the
worker builds :class:`runtime.services.Services` with the storage-backed conversation store
and catalogue and hands them to an *executor factory* (by default the engine's
``execute_job``, see :mod:`storage.jobs.defaults`), and a warm-up factory likewise.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runtime import gc_policy, tracing
from runtime.logs import run_context
from runtime.ports import BackgroundJob, BackgroundOutcome
from runtime.redis_clients import RedisTimeouts, arq_client, job_timeouts, wait_for_redis
from runtime.services import Services

from ..catalogue import SqlProductCatalog
from ..conversations import SqlConversationStore
from ..db import Database, init_db
from ..errors import StorageError
from .codec import JOB_FUNCTION, JOB_TIMEOUT_S, QUEUE_NAME, deserialize, job_from_dict, outcome_to_dict, serialize
from .stopping import stop_on_signals

log = logging.getLogger(__name__)

Executor = Callable[[BackgroundJob], Awaitable[None]]
ExecutorFactory = Callable[[Services], Executor]
WarmupFactory = Callable[..., Callable[[], Awaitable[Any]]]  # (services) or (services, database)
RunsFactory = Callable[[Database], Any]  # database -> a started-by-us run executor (start(), async stop())
JobDone = Callable[[BackgroundJob, BackgroundOutcome], None]  # told each job's final outcome (metrics)


@dataclass
class WorkerOptions:
    redis_url: str
    database_url: str = ""
    queue_name: str = QUEUE_NAME
    max_jobs: int = 10
    job_timeout_s: float = JOB_TIMEOUT_S  # a dead worker's job is retried after this + 10 s
    max_tries: int = 5
    retry_backoff_s: float = 1.0  # after a failed try; grows linearly with the try number
    warmup_interval_s: float = 240.0  # every 4 minutes (AKIS_WARMUP_INTERVAL_S); 0 turns it off
    in_progress_timeout_s: float | None = None  # None: the job timeout + 10 s (ORPHAN_RETRY_S by default)
    poll_delay_s: float = 0.5
    burst: bool = False  # stop when the queue is empty (tests, one-off catch-up)
    handle_signals: bool = True  # False when embedded in another event loop (tests)
    timeouts: RedisTimeouts | None = None  # Redis connect and socket timeouts; None: the settings' defaults
    gc_freeze: bool = False  # freeze what start-up made (runtime/gc_policy.py): ``akis worker``, not embedded


def load_object(spec: str) -> Any:
    """``package.module:attribute`` -> the attribute, with a clear error."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise StorageError(f"expected 'module:attribute', got {spec!r}")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise StorageError(f"cannot load {spec!r}: {exc}") from None


async def run_background_job(ctx: dict[str, Any], job_data: dict[str, Any]) -> dict[str, Any]:
    """One background node. A failure is retried (arq ``Retry``) until ``max_tries``.
    Every line logged meanwhile carries the job's run and tenant ids (JSON logs)."""
    job = job_from_dict(job_data)
    with run_context(job.run_id, job.tenant_id):
        if not (tracing.enabled and job.traceparent):
            return await _run_job(ctx, job)
        # the run's trace, current for this job's task: its span and its log lines continue it
        token = tracing.attach(tracing.extract({"traceparent": job.traceparent}))
        try:
            return await _run_job(ctx, job)
        finally:
            tracing.detach(token)


async def _run_job(ctx: dict[str, Any], job: BackgroundJob) -> dict[str, Any]:
    from arq.worker import Retry  # arq only where a queue is used: the default install runs without Redis

    options: WorkerOptions = ctx["options"]
    started_at, t0 = time.time(), time.perf_counter()
    try:
        await ctx["execute"](job)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if ctx["job_try"] < options.max_tries:
            log.warning("job %s try %d failed (%s); retrying", ctx["job_id"], ctx["job_try"], error)
            raise Retry(defer=options.retry_backoff_s * ctx["job_try"]) from exc
        outcome = BackgroundOutcome(job.node_id, "failed", _ms(t0), error, started_at)
    else:
        outcome = BackgroundOutcome(job.node_id, "succeeded", _ms(t0), None, started_at)
    done = ctx.get("job_done")
    if done is not None:  # the worker's own metrics (background node durations)
        done(job, outcome)
    return outcome_to_dict(outcome)


async def cache_warmup(ctx: dict[str, Any]) -> Any:
    warmup = ctx.get("warmup")
    return await warmup() if warmup is not None else None


def make_warmup(factory: Any, services: Services, database: Database) -> Callable[[], Awaitable[Any]] | None:
    """A warm-up factory takes (services) or (services, database)."""
    if factory is None:
        return None
    takes = len(inspect.signature(factory).parameters)
    return factory(services, database) if takes >= 2 else factory(services)


def build_worker(
    options: WorkerOptions,
    executor_factory: ExecutorFactory,
    warmup_factory: WarmupFactory | None = None,
    runs_factory: RunsFactory | None = None,
    job_done: JobDone | None = None,
) -> Any:
    """An arq Worker wired to the database and the injected node executor; with
    ``runs_factory`` it also executes whole queued runs (queue mode, storage/durable)."""
    from arq import cron  # arq only where a queue is used: the default install runs without Redis
    from arq.worker import Worker, func

    async def on_startup(ctx: dict[str, Any]) -> None:
        database = await asyncio.to_thread(init_db, options.database_url)
        services = Services(catalogue=SqlProductCatalog(database), conversations=SqlConversationStore(database))
        ctx.update(options=options, db=database, execute=executor_factory(services), job_done=job_done)
        ctx["warmup"] = make_warmup(warmup_factory, services, database)
        if runs_factory is not None:
            ctx["runs"] = runs_factory(database)
            ctx["runs"].start()
        log.info("akis worker: queue %s, database %s", options.queue_name, database.describe())
        if options.gc_freeze:
            gc_policy.freeze()  # the last step of start-up: what it made is here to stay

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        # both lines logged: a worker slow to stop shows in its log which side of them it is stuck on
        log.info("akis worker: stopping (runs under way: %d)", len(ctx["runs"].held) if "runs" in ctx else 0)
        if "runs" in ctx:
            await ctx["runs"].stop()
        if "db" in ctx:
            ctx["db"].dispose()
        log.info("akis worker: stopped")

    cron_jobs: list[Any] = []
    if warmup_factory is not None and options.warmup_interval_s > 0:
        minutes = max(1, round(options.warmup_interval_s / 60))
        cron_jobs.append(cron(cache_warmup, name="akis.warmup", minute=set(range(0, 60, minutes)), second=0,
                              unique=True, timeout=max(60.0, options.warmup_interval_s)))
    worker = Worker(
        functions=[func(run_background_job, name=JOB_FUNCTION, timeout=options.job_timeout_s,
                        max_tries=options.max_tries + 1)],  # +1: our Retry decides, arq only backstops
        cron_jobs=cron_jobs,
        queue_name=options.queue_name,
        # Our client, not arq's RedisSettings: arq sets no socket timeout, and a paused Redis
        # would hold the worker's every call for as long as it is paused.
        redis_pool=arq_client(options.redis_url, options.timeouts or job_timeouts(),
                              default_queue_name=options.queue_name, job_serializer=serialize,
                              job_deserializer=deserialize),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=options.max_jobs,
        job_timeout=options.job_timeout_s,
        poll_delay=options.poll_delay_s,
        burst=options.burst,
        job_serializer=serialize,
        job_deserializer=deserialize,
        max_tries=options.max_tries + 1,
        handle_signals=options.handle_signals,
    )
    # arq marks a job in progress for its longest function timeout + 10 s, and the warm-up cron's
    # timeout is minutes: a save orphaned by a dead worker would wait that long. The mark follows
    # the jobs' own timeout instead, so another worker retries an orphan within ORPHAN_RETRY_S.
    worker.in_progress_timeout_s = (options.in_progress_timeout_s if options.in_progress_timeout_s is not None
                                    else options.job_timeout_s + 10)
    return worker


def run_worker(options: WorkerOptions, executor_factory: ExecutorFactory,
               warmup_factory: WarmupFactory | None = None, runs_factory: RunsFactory | None = None,
               job_done: JobDone | None = None) -> None:
    """Block running the worker until SIGINT/SIGTERM (arq finishes or requeues running jobs).

    Waits for Redis first (5 tries a second apart), as arq does when it makes its own client."""
    wait_for_redis(options.redis_url, options.timeouts or job_timeouts())
    worker = build_worker(options, executor_factory, warmup_factory, runs_factory, job_done)
    if options.handle_signals:
        stop_on_signals(worker)  # arq's stop, repeated until its main loop has ended
    worker.run()


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
