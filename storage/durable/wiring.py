"""The run executor of ``akis worker`` wired from settings: the engine over the storage-backed
services and metrics, background jobs onto the worker's arq queue, events onto the Redis
channels, runs from the Redis run queue."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from runtime.channels.redis_hub import RedisChannelHub
from runtime.engine.engine import Engine
from runtime.events import Event
from runtime.logs import secret_values
from runtime.ports import BackgroundJob, BackgroundOutcome
from runtime.redis_clients import RedisTimeouts, job_timeouts, redis_client
from runtime.settings import AkisSettings
from runtime.wiring import build_cache, build_registry, build_services

from ..catalogue import SqlProductCatalog
from ..conversations import SqlConversationStore
from ..credential_source import use_stored_credentials
from ..db import Database
from ..flow_source import SqlFlowSource
from ..jobs.arq_runner import ArqRunner
from ..knowledge import sql_knowledge
from ..metrics_sink import SqlMetricsSink
from .executor import ExecutorOptions, RunExecutor
from .queue import RunQueue


def run_queue(settings: AkisSettings) -> RunQueue:
    return RunQueue(settings.redis_url, prefix=settings.queue_prefix, timeouts=job_timeouts(settings))


class RunObserver(Protocol):
    """What counts a worker's runs for its own metrics (the app's ``WorkerMetrics``)."""

    def observer(self, tenant: str, flow_id: str) -> Callable[[Event], None]: ...

    def watch(self, running: Callable[[], int]) -> None: ...

    def background_done(self, job: BackgroundJob, outcome: BackgroundOutcome) -> None: ...

    def close(self) -> None: ...


def runs_factory(settings: AkisSettings, concurrency: int, jobs_queue: str,
                 metrics: RunObserver | None = None) -> Callable[[Database], RunExecutor]:
    """``database -> RunExecutor`` for the worker's start-up (``concurrency`` runs at once);
    ``metrics`` sees every event of the runs it executes."""

    def make(database: Database) -> RunExecutor:
        registry = build_registry(settings)
        services = build_services(settings, conversations=SqlConversationStore(database),
                                  catalogue=SqlProductCatalog(database),
                                  knowledge=sql_knowledge(database),  # knowledge bases (issue 19)
                                  flows=SqlFlowSource(database, registry))  # sub-flows (issue 20)
        use_stored_credentials(services, database)  # a tenant's keys from Settings, as on the web
        jobs = ArqRunner(settings.redis_url, queue_name=jobs_queue, timeouts=job_timeouts(settings))
        sink = SqlMetricsSink(database)
        engine = Engine(registry=registry, services=services, cache=build_cache(settings),
                        metrics=sink, background=jobs)
        # a worker's events are the only copy followers get: patient timeouts, a short breaker
        hub = RedisChannelHub(settings.redis_url, timeouts=RedisTimeouts(max(settings.redis_connect_timeout_s, 2.0),
                                                                         settings.redis_jobs_socket_timeout_s),
                              retry_after_s=min(settings.redis_retry_after_s, 1.0), keep_on_outage=True)
        # pub/sub reads wait up to a second: a longer socket timeout than the request path's
        cancel_client = redis_client(settings.redis_url, RedisTimeouts(settings.redis_connect_timeout_s, 5.0))
        options = ExecutorOptions(concurrency=concurrency, lease_s=settings.run_lease_s,
                                  max_attempts=settings.run_max_attempts, inspect=settings.run_inspection,
                                  secrets=tuple(secret_values(settings)))
        executor = RunExecutor(options, database, engine, hub, run_queue(settings), cancel_client)
        sink.labels_of = executor.labels.get  # an experiment's node rows carry its variant (issue 17)
        if metrics is not None:
            executor.observe = metrics.observer
            metrics.watch(lambda: len(executor.held))
        return executor

    return make
