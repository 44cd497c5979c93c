"""Everything the pages and the API share, built once from settings.

This is where the storage-backed services meet the engine: a SQL conversation store and
product catalogue, the database metrics sink, the run recorder, the cache, the channel hub,
and background jobs in-process or on an arq queue when Redis is configured.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runtime import Engine, NodeRegistry
from runtime.cache.events import CacheEvents
from runtime.cache.tiered import TieredCache
from runtime.cache.warmup import WarmupScheduler
from runtime.engine.background import execute_job
from runtime.events import Event
from runtime.flow.model import FlowDocument
from runtime.redis_clients import job_timeouts
from runtime.services import Services
from runtime.settings import AkisSettings
from runtime.wiring import build_cache, build_publisher, build_registry, build_services
from storage.catalogue import ChangeCallback, SqlProductCatalog
from storage.conversations import SqlConversationStore
from storage.db import Database, init_db
from storage.jobs import make_runner
from storage.jobs.defaults import documents_with_warmup
from storage.metrics_sink import SqlMetricsSink
from storage.recorder import RunRecorder
from storage.repos.tenants import list_tenant_ids

from .auth.throttle import LoginThrottle
from .observability.metrics import app_metrics
from .services.flows import FlowService
from .services.runs import Hub, RunService

log = logging.getLogger("akis")


@dataclass
class AkisContext:
    """The app's parts, typed: what a page, a route or start-up may reach."""

    settings: AkisSettings
    database: Database
    registry: NodeRegistry
    services: Services
    engine: Engine
    cache: TieredCache | None
    hub: Hub | None
    metrics: SqlMetricsSink
    recorder: RunRecorder
    flows: FlowService
    runs: RunService
    login_throttle: LoginThrottle
    cache_events: CacheEvents | None = None
    background_tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    warmup: WarmupScheduler | None = None

    async def startup(self) -> None:
        self.warmup = WarmupScheduler(
            self.settings.warmup_interval_s, self._warmup_flows, self.cache,
            engine_factory=lambda cache: self.engine, initial_delay_s=5.0,
        )
        if self.cache is not None and self.settings.warmup_interval_s > 0:
            self.warmup.start()

    async def shutdown(self) -> None:
        """Bounded: wait for queued background jobs and buffered metrics, then close."""
        if self.warmup is not None:
            await self.warmup.stop()
        try:
            await asyncio.wait_for(self.engine.background.drain(10.0), 12.0)
        except Exception as exc:  # noqa: BLE001 - shutdown must finish whatever a job did
            log.warning("background jobs not drained: %s", exc)
        await self.recorder.drain(5.0)
        try:
            await asyncio.wait_for(self.metrics.aclose(), 10.0)
        except Exception as exc:  # noqa: BLE001 - shutdown must finish
            log.warning("metrics not flushed: %s", exc)
        closers = (self.hub.aclose if self.hub is not None else None, self.cache.close if self.cache else None,
                   getattr(self.services.providers, "aclose", None), self.login_throttle.aclose)
        for closer in closers:
            if closer is not None:
                try:
                    await closer()
                except Exception as exc:  # noqa: BLE001 - one failing close must not keep the others open
                    log.warning("close failed: %s", exc)

    def _warmup_flows(self) -> list[FlowDocument]:
        return stored_warmup_flows(self.database)


def stored_warmup_flows(database: Database) -> list[FlowDocument]:
    """Every tenant's current flows that list warm-up inputs, each input pinned to its tenant."""
    return [doc for tenant in database.call(list_tenant_ids) for doc in database.call(documents_with_warmup, tenant)]


def storage_services(settings: AkisSettings, database: Database,
                     on_product_change: ChangeCallback | None = None) -> Services:
    services = build_services(settings)
    services.conversations = SqlConversationStore(database)
    services.catalogue = SqlProductCatalog(database, on_change=on_product_change)
    return services


def create_context(settings: AkisSettings) -> AkisContext:
    database = init_db(settings.sqlalchemy_url)
    registry = build_registry(settings)
    cache = build_cache(settings)
    cache_events = CacheEvents(cache) if cache is not None else None

    def on_product_change(tenant_id: str, event_name: str) -> None:
        if cache_events is not None:
            task = asyncio.get_running_loop().create_task(cache_events.emit(tenant_id, event_name))
            context.background_tasks.add(task)
            task.add_done_callback(context.background_tasks.discard)

    services = storage_services(settings, database, on_product_change)
    hub = build_publisher(settings)
    metrics = SqlMetricsSink(database)
    recorder = RunRecorder(database)
    engine = Engine(registry=registry, services=services, cache=cache, metrics=metrics,
                    background=make_runner(partial(execute_job, registry=registry, services=services),
                                           settings.redis_url,  # arq queue when Redis is configured
                                           timeouts=job_timeouts(settings)),
                    publisher=hub)
    flows = FlowService(database, registry, cache_events)
    runs = RunService(engine, hub, recorder, database, flows)
    if settings.metrics_enabled:  # Prometheus /metrics: every run feeds it (docs/observability.md)
        runs.prometheus = app_metrics(settings, runs.active.running_count, engine.background, cache)
    context = AkisContext(settings, database, registry, services, engine, cache, hub, metrics, recorder,
                          flows, runs, LoginThrottle.from_settings(settings), cache_events=cache_events)
    return context


class CliRecording:
    """What ``akis run --record`` writes through: the run recorder and the metrics sink."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.recorder = RunRecorder(database)
        self.metrics = SqlMetricsSink(database)

    def observe(self, event: Event) -> None:
        self.recorder.observe(event)

    async def drain(self) -> None:
        await self.recorder.drain(10.0)
        await self.metrics.aclose()


def cli_recording(settings: AkisSettings) -> CliRecording:
    return CliRecording(init_db(settings.sqlalchemy_url))
