"""Everything the pages and the API share, built once from settings.

This is where the storage-backed services meet the engine: a SQL conversation store and
product catalogue, the database metrics sink, the run recorder, the cache, the channel hub,
and background jobs in-process or on an arq queue when Redis is configured.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runtime import Engine, NodeRegistry
from runtime.cache.events import CacheEvents
from runtime.cache.tiered import TieredCache
from runtime.cache.warmup import WarmupScheduler, cluster_round_lock
from runtime.channels import ChannelHub
from runtime.closing import close_all
from runtime.engine.background import execute_job
from runtime.errors import AkisError, FlowValidationError
from runtime.events import Event
from runtime.flow.model import FlowDocument
from runtime.knowledge.settings import KnowledgeSettings
from runtime.logs import secret_values
from runtime.redis_clients import job_timeouts
from runtime.services import Services
from runtime.settings import AkisSettings
from runtime.wiring import build_cache, build_publisher, build_registry, build_services
from storage.catalogue import ChangeCallback, SqlProductCatalog
from storage.conversations import SqlConversationStore
from storage.credential_source import use_stored_credentials
from storage.db import Database, init_db
from storage.jobs import make_runner
from storage.jobs.defaults import documents_with_warmup
from storage.knowledge import SqlKnowledge, sql_knowledge
from storage.metrics_sink import SqlMetricsSink
from storage.recorder import RunRecorder
from storage.repos.tenants import list_tenant_ids

from .auth.throttle import LoginThrottle
from .drain import Drain
from .observability.channels import ChannelHubCollector
from .observability.metrics import app_metrics
from .observability.scaling import ScalingCollector
from .services.credentials import CredentialService
from .services.datasets import DatasetService
from .services.errors import FlowProblems, ServiceError
from .services.evaluations import EvaluationService
from .services.experiments import ExperimentService
from .services.flow_source import StoredFlowSource
from .services.flows import FlowService
from .services.knowledge import KnowledgeService
from .services.node_runs import NodeRunService
from .services.publishing import PublishingService
from .services.publishing_rates import rates_from_settings
from .services.queued_runs import queued_runs
from .services.runs import Hub, RunService
from .services.scaling import ScalingService

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
    # A/B tests (issue 17): it also picks each run's variant and tags its metric rows
    experiments: ExperimentService = field(init=False)
    drain: Drain = field(default_factory=Drain)  # SIGTERM: readiness fails, in-flight work finishes
    scaling: ScalingService | None = None  # the autoscaler's figures (readiness JSON, /metrics)
    # evaluations (issue 22): datasets of cases, and runs of them through flow versions, scored
    datasets: DatasetService = field(init=False)
    evaluations: EvaluationService = field(init=False)
    # knowledge bases (issue 19): documents, chunks, and the search the knowledge_retrieval node uses
    knowledge: KnowledgeService = field(init=False)
    # provider keys and base URLs per tenant, from Settings (issue 18): read before the environment
    credentials: CredentialService = field(init=False)
    # publishable keys for the chat widget, one flow each (issue 18)
    publishing: PublishingService = field(init=False)
    # each node of a run, inspected; one node run alone or from here (issue 18, the debugging loop)
    node_runs: NodeRunService = field(init=False)

    def __post_init__(self) -> None:
        sql_knowledge = self.services.knowledge
        if not isinstance(sql_knowledge, SqlKnowledge):  # services built without storage_services
            sql_knowledge = self.services.knowledge = SqlKnowledge(self.database)
        self.knowledge = KnowledgeService(self.database, sql_knowledge, self.cache,
                                          KnowledgeSettings().knowledge_max_file_bytes)
        self.experiments = ExperimentService(self.database, self.flows, self.runs.active)
        self.runs.variants = self.experiments
        self.metrics.labels_of = self.recorder.labels_of
        self.datasets = DatasetService(self.database, self.runs)
        self.evaluations = EvaluationService(self.database, self.flows, self.runs, self.datasets,
                                             self.services.providers, self.services.conversations)
        self.credentials = CredentialService(self.database, self.services.providers,
                                             use_stored_credentials(self.services, self.database),
                                             self.services.http_allow_hosts)
        self.publishing = PublishingService(self.database, self.flows, rates_from_settings(self.settings))
        self.node_runs = NodeRunService(self.runs, self.cache)

    async def startup(self) -> None:
        warms = self.cache is not None and self.settings.warmup_interval_s > 0
        self.warmup = WarmupScheduler(  # with a shared cache tier: once per round across the cluster
            self.settings.warmup_interval_s, self._warmup_flows, self.cache,
            engine_factory=lambda cache: self.engine, initial_delay_s=5.0,
            lock=cluster_round_lock(self.settings) if warms else None,
        )
        if warms:
            self.warmup.start()

    async def shutdown(self) -> None:
        """Bounded: wait for queued background jobs and buffered metrics, then close."""
        if self.warmup is not None:
            await self.warmup.stop()
        await self.evaluations.aclose()  # running evaluations stop, stored as cancelled
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
                   getattr(self.services.providers, "aclose", None), self.login_throttle.aclose,
                   self.runs.queued.aclose if self.runs.queued is not None else None,
                   getattr(self.publishing.rates, "aclose", None))  # the widget's rate log in Redis
        await close_all(closers)

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
    services.knowledge = sql_knowledge(database)
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
    recorder.secrets = tuple(secret_values(settings))  # masked in what node records keep
    engine = Engine(registry=registry, services=services, cache=cache, metrics=metrics,
                    background=make_runner(partial(execute_job, registry=registry, services=services),
                                           settings.redis_url,  # arq queue when Redis is configured
                                           timeouts=job_timeouts(settings)),
                    publisher=hub)
    flows = FlowService(database, registry, cache_events)
    services.flows = StoredFlowSource(flows)  # sub-flows, iterations and flow tools read the tenant's flows
    runs = RunService(engine, hub, recorder, database, flows)
    runs.inspect = settings.run_inspection  # AKIS_RUN_INSPECTION=false: no node records
    runs.queued = queued_runs(settings, database, hub)  # queue mode (AKIS_RUN_MODE): akis worker runs them
    if settings.metrics_enabled:  # Prometheus /metrics: every run feeds it (docs/observability.md)
        runs.prometheus = app_metrics(settings, runs.active.running_count, engine.background, cache)
    context = AkisContext(settings, database, registry, services, engine, cache, hub, metrics, recorder,
                          flows, runs, LoginThrottle.from_settings(settings), cache_events=cache_events)
    context.scaling = ScalingService(database, runs.active.running_count,
                                     getattr(engine.background, "queue_depth", None))
    if runs.prometheus is not None:
        runs.prometheus.registry.register(ScalingCollector(context.scaling))
        if isinstance(hub, ChannelHub):  # what it keeps for resumes, against its bound
            runs.prometheus.registry.register(ChannelHubCollector(hub))
    return context


class CliRecording:
    """``akis run --record``: the run goes through the app's runs service, like the API's and the
    run pane's, so it is recorded (row and node metrics) and runs inline or on a worker
    (``AKIS_RUN_MODE``). Built on first use: the context starts with the event loop."""

    def __init__(self, settings: AkisSettings) -> None:
        self.settings = settings
        self.context: AkisContext | None = None

    async def run(self, flow: FlowDocument, values: dict[str, Any], tenant: str, session: str,
                  listener: Callable[[Event], None], trace_parent: dict[str, str] | None) -> None:
        self.context = self.context or create_context(self.settings)
        try:
            started = await self.context.runs.start(tenant, flow, values, session_id=session, listener=listener,
                                                    trace_parent=trace_parent)
        except FlowProblems as exc:
            raise FlowValidationError(exc.problems) from None
        except ServiceError as exc:
            raise AkisError(exc.detail) from None
        await started.handle.result()

    async def drain(self) -> None:
        if self.context is not None:
            await self.context.shutdown()


def cli_recording(settings: AkisSettings) -> CliRecording:
    return CliRecording(settings)
