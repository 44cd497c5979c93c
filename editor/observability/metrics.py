"""Prometheus metrics of the app (``/metrics``), filled from the engine's events.

The run service hands every event of a run to the :class:`FlowObserver` of the run's flow
(one call per event). The observer holds the label children it needs, bound once per flow and
node type and shared by every run of the flow, so a run adds no object and an event costs a
comparison or two and an increment (``families.py``: no lock, no label lookup by name, no dict
built per event). What is read rather than counted (runs in flight, background jobs waiting,
cache tiers up or down) is read when Prometheus scrapes.

Labels stay bounded: flow id, node type, status, cache outcome, token direction, tier, and
the tenant only with ``AKIS_METRICS_TENANT_LABEL``; never a run or session id. Flows past
``max_flows`` distinct ids share the flow label ``other``.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, cast

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from editor.observability.families import Counters, FamiliesCollector, Histograms
from editor.observability.gc_pauses import GcCollector, gc_pauses
from runtime.events import MESSAGE_CHUNK, NODE_FAILED, NODE_FINISHED, RUN_FINISHED, Event
from runtime.ports import BackgroundJob, BackgroundOutcome
from runtime.settings import AkisSettings

if TYPE_CHECKING:
    from runtime.cache.tiered import TieredCache

log = logging.getLogger("akis.metrics")

RUN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
NODE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OTHER_FLOW = "other"
OFF = "metrics are off: set AKIS_METRICS_TOKEN or AKIS_METRICS_ALLOW"
NO_CREDENTIAL = "send 'Authorization: Bearer <AKIS_METRICS_TOKEN>'"  # 401, the app's route and a worker's
REFUSED = "not the metrics token, and not an address on AKIS_METRICS_ALLOW"  # 403
MAX_STREAMING = 100_000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class QueueDepth(Protocol):
    """A background runner whose shared queue can be measured (the arq runner)."""

    async def queue_depth(self) -> int | None: ...


class _FlowSeries:
    """The children of one (tenant, flow): run counts per status, durations, tokens (status and
    token children made on first use, so a flow without model calls has no token series)."""

    __slots__ = ("first_chunk", "metrics", "prefix", "run_seconds", "statuses", "tokens")

    def __init__(self, metrics: AppMetrics, prefix: tuple[str, ...]) -> None:
        self.metrics = metrics
        self.prefix = prefix
        self.run_seconds = metrics.run_seconds.labels(*prefix)
        self.first_chunk = metrics.first_chunk.labels(*prefix)
        self.statuses: dict[str, list[float]] = {}
        self.tokens: dict[str, list[float]] = {}

    def finished(self, event: Event) -> None:
        status = event.status or "succeeded"
        child = self.statuses.get(status)
        if child is None:
            child = self.statuses[status] = self.metrics.runs.labels(*self.prefix, status)
        child[0] += 1
        if event.duration_ms is not None:
            self.run_seconds.observe(event.duration_ms / 1000.0)
        usage = event.usage
        if usage:
            for key, direction in (("tokens_in", "in"), ("tokens_out", "out")):
                count = usage.get(key, 0)
                if count:
                    child = self.tokens.get(direction)
                    if child is None:
                        child = self.tokens[direction] = self.metrics.tokens.labels(*self.prefix, direction)
                    child[0] += count


class _NodeSeries:
    """The children of one (tenant, node type): its duration, and (made on first use, so a type
    that is never cached or never fails has no such series) cache outcomes and failures."""

    __slots__ = ("failures", "labels", "metrics", "outcomes", "seconds")

    def __init__(self, metrics: AppMetrics, labels: tuple[str, ...]) -> None:
        self.metrics = metrics
        self.labels = labels
        self.seconds = metrics.node_seconds.labels(*labels)
        self.outcomes: dict[str, list[float]] = {}
        self.failures: list[float] | None = None

    def cached(self, outcome: str) -> None:
        child = self.outcomes.get(outcome)
        if child is None:
            child = self.outcomes[outcome] = self.metrics.cache_lookups.labels(*self.labels, outcome)
        child[0] += 1

    def failed(self) -> None:
        if self.failures is None:
            self.failures = self.metrics.node_failures.labels(*self.labels)
        self.failures[0] += 1


class FlowObserver:
    """The event listener of every run of one (tenant, flow): shared, so a run adds no object
    of its own. Which runs already streamed a chunk is a set of run ids, emptied at run.finished."""

    __slots__ = ("chunked", "flow", "metrics", "node_series", "tenant_key")

    def __init__(self, metrics: AppMetrics, tenant_key: str, flow: _FlowSeries,
                 node_series: dict[str, _NodeSeries]) -> None:
        self.metrics = metrics
        self.tenant_key = tenant_key
        self.flow = flow
        self.node_series = node_series
        self.chunked = metrics.chunked

    def __call__(self, event: Event) -> None:
        kind = event.event
        if kind == MESSAGE_CHUNK:  # the most frequent event: one comparison, one set lookup
            if event.run_id not in self.chunked:
                self.first_chunk(event)
        elif kind in (NODE_FINISHED, NODE_FAILED):
            node_type = event.node_type or ""
            series = self.node_series.get(node_type) or self.metrics.node_series(self.tenant_key, node_type)
            if event.duration_ms is not None:
                series.seconds.observe(event.duration_ms / 1000.0)
            cache = event.cache
            if cache == "hit" or cache == "miss":  # not "off" (an uncached node), not None
                series.cached(cache)
            if kind == NODE_FAILED:
                series.failed()
        elif kind == RUN_FINISHED:
            self.chunked.discard(event.run_id)
            self.flow.finished(event)

    def first_chunk(self, event: Event) -> None:
        if len(self.chunked) >= MAX_STREAMING:  # runs that never finished (cannot happen): bounded anyway
            self.chunked.clear()
        self.chunked.add(event.run_id)
        self.flow.first_chunk.observe(event.t_ms / 1000.0)


class AppMetrics:
    """The registry, its metrics, and the observers the run service attaches to runs."""

    def __init__(self, settings: AkisSettings, *, max_flows: int = 500) -> None:
        self.tenant_label = settings.metrics_tenant_label
        self.max_flows = max_flows
        self.allow = parse_allow(settings.metrics_allow)
        self.token = settings.metrics_token.get_secret_value()
        self.registry = CollectorRegistry()
        tenant = ("tenant",) if self.tenant_label else ()
        flow = (*tenant, "flow")
        node = (*tenant, "node_type")
        registry = self.registry
        self.runs = Counters("akis_runs", "Runs finished, by flow and status.", [*flow, "status"])
        self.run_seconds = Histograms("akis_run_duration_seconds", "Run duration, start to run.finished.", flow,
                                      RUN_BUCKETS)
        self.first_chunk = Histograms("akis_run_first_chunk_seconds", "Time from a run's start to its first chunk.",
                                      flow, RUN_BUCKETS)
        self.tokens = Counters("akis_model_tokens", "Model tokens used by runs (direction: in, out).",
                               [*flow, "direction"])
        self.node_seconds = Histograms("akis_node_duration_seconds", "Node duration (finished or failed), by type.",
                                       node, NODE_BUCKETS)
        self.node_failures = Counters("akis_node_failures", "Nodes that failed (node.failed), by type.", node)
        self.cache_lookups = Counters("akis_cache_lookups", "Cached nodes by outcome (hit, miss), by node type.",
                                      [*node, "outcome"])
        self.background_seconds = Histograms("akis_background_node_duration_seconds",
                                             "Background node (run after the answer) duration, by type and status.",
                                             [*node, "status"], NODE_BUCKETS)
        registry.register(FamiliesCollector([self.runs, self.run_seconds, self.first_chunk, self.tokens,
                                             self.node_seconds, self.node_failures, self.cache_lookups,
                                             self.background_seconds]))
        registry.register(GcCollector(gc_pauses()))
        self.in_flight = Gauge("akis_runs_in_flight", "Runs of this process still running.", registry=registry)
        self.jobs_pending = Gauge("akis_background_jobs_pending",
                                  "Background jobs this process submitted that have not finished.", registry=registry)
        self.queue_depth = Gauge("akis_job_queue_depth", "Jobs waiting in the shared queue (Redis), read at scrape; "
                                 "NaN when it could not be read.", registry=registry)
        self._nodes: dict[str, dict[str, _NodeSeries]] = {}
        self._observers: dict[tuple[str, str], FlowObserver] = {}
        self._others: dict[str, FlowObserver] = {}  # per tenant: the flows past max_flows
        self.chunked: set[str] = set()  # runs that streamed their first chunk and have not finished
        self._queue: QueueDepth | None = None

    # -- wiring ---------------------------------------------------------------------------------
    def watch(self, running: Callable[[], int], pending: Callable[[], int], cache: TieredCache | None = None,
              queue: QueueDepth | None = None) -> None:
        """What is read at scrape time: runs in flight, jobs pending, the cache tiers, the queue."""
        self.in_flight.set_function(running)
        self.jobs_pending.set_function(pending)
        if cache is not None:
            self.registry.register(CacheTiersCollector(cache))
        self._queue = queue
        if queue is None:
            self.registry.unregister(self.queue_depth)

    def background_done(self, job: BackgroundJob, outcome: BackgroundOutcome) -> None:
        """A background node this process ran has ended (the in-process runner calls this)."""
        labels = (job.tenant_id, job.node_type) if self.tenant_label else (job.node_type,)
        self.background_seconds.labels(*labels, outcome.status).observe(outcome.duration_ms / 1000.0)

    def observer(self, tenant: str, flow_id: str) -> FlowObserver:
        """The listener for a run of this flow (made once per flow, then shared). Past
        ``max_flows`` (tenant, flow) pairs, new flows share the flow label ``other``."""
        tenant_key = tenant if self.tenant_label else ""
        observer = self._observers.get((tenant_key, flow_id))
        if observer is None:
            if len(self._observers) >= self.max_flows:
                observer = self._others.get(tenant_key)
                if observer is None:
                    observer = self._others[tenant_key] = self._new_observer(tenant_key, OTHER_FLOW)
                return observer
            observer = self._observers[(tenant_key, flow_id)] = self._new_observer(tenant_key, flow_id)
        return observer

    def node_series(self, tenant_key: str, node_type: str) -> _NodeSeries:
        """A node type's children, made on its first event (node types are few)."""
        labels = (tenant_key, node_type) if self.tenant_label else (node_type,)
        series = self._nodes.setdefault(tenant_key, {})[node_type] = _NodeSeries(self, labels)
        return series

    def _new_observer(self, tenant_key: str, flow_id: str) -> FlowObserver:
        prefix = (tenant_key, flow_id) if self.tenant_label else (flow_id,)
        return FlowObserver(self, tenant_key, _FlowSeries(self, prefix), self._nodes.setdefault(tenant_key, {}))

    # -- reading --------------------------------------------------------------------------------
    def allowed(self, authorization: str | None, client: str | None) -> bool | None:
        """True: may read. None: no credential offered (401). False: a wrong one (403)."""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if self.token and scheme.lower() == "bearer" and _same(value.strip(), self.token):
                return True
        if client and self.allow and _in(client, self.allow):
            return True
        return False if authorization else None

    async def refresh(self, timeout_s: float = 1.0) -> None:
        """Read what a scrape needs from elsewhere: the shared queue's depth (bounded)."""
        if self._queue is None:
            return
        try:
            depth = await asyncio.wait_for(self._queue.queue_depth(), timeout_s)
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
            log.debug("queue depth not read: %s", exc)
            depth = None
        self.queue_depth.set(math.nan if depth is None else depth)


class CacheTiersCollector(Collector):
    """Per cache tier, read at scrape: available or not, outages so far (``health()``), and
    lookups by node type and outcome (``tier_counts``: a hit where the tier answered, a miss in
    each tier asked before it; ``in-flight``: joined a computation already running)."""

    def __init__(self, cache: TieredCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("akis_cache_tier_available", "1 while the cache tier answers, 0 while bypassed.",
                               labels=["tier"])
        outages = CounterMetricFamily("akis_cache_tier_outages", "Times a cache tier was found down.",
                                      labels=["tier"])
        lookups = CounterMetricFamily("akis_cache_tier_lookups", "Cache lookups by tier, node type and outcome.",
                                      labels=["tier", "node_type", "outcome"])
        for name, info in self.cache.health().items():
            up.add_metric([name], 1.0 if info.get("available") else 0.0)
            outages.add_metric([name], float(info.get("outages", 0)))
        for (node_type, tier, outcome), count in sorted(self.cache.tier_counts.items()):
            lookups.add_metric([tier, node_type, outcome], float(count))
        yield up
        yield outages
        yield lookups


def parse_allow(text: str) -> list[Network]:
    """``AKIS_METRICS_ALLOW``: addresses or networks, comma-separated; a bad entry is named and skipped."""
    networks: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning("AKIS_METRICS_ALLOW: %r is not an address or a network; ignored", item[:60])
    return networks


def _in(client: str, networks: list[Network]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.5 from a dual-stack socket
    return any(address in network for network in networks)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def app_metrics(settings: AkisSettings, running: Callable[[], int], background: object,
                cache: TieredCache | None) -> AppMetrics:
    """The app's metrics, watching its runs, its background runner and its cache.

    ``pending`` is what the runner says it holds (in-process: jobs running or waiting for a
    slot; arq: jobs queued by this process whose result has not come back); the shared queue's
    depth is read from Redis at scrape when the runner can say it (arq)."""
    metrics = AppMetrics(settings)
    # the arq runner has queue_depth; the in-process runner has no shared queue to measure
    queue = cast(QueueDepth, background) if callable(getattr(background, "queue_depth", None)) else None

    def pending() -> int:
        return int(getattr(background, "pending", 0))

    metrics.watch(running, pending, cache, queue)
    observers = getattr(background, "observers", None)  # the in-process runner: it runs the background nodes
    if isinstance(observers, list):
        observers.append(metrics.background_done)
    return metrics
