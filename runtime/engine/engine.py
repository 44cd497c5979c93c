"""The engine's public face: ``run`` (a result), ``stream`` (events) and ``start`` (a handle
that can be cancelled). It owns no state about a run beyond the compiled-plan cache."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import Any

from cachetools import LRUCache

from ..channels.names import SESSION_ID, TENANT_ID, channel_for
from ..errors import AkisError
from ..events import BACKGROUND_FINISHED, RUN_FINISHED, Event
from ..flow.loader import load_flow
from ..flow.model import FlowDocument
from ..nodes.registry import NodeRegistry, default_registry
from ..ports import BackgroundOutcome, BackgroundRunner, EventPublisher, MetricRow, MetricsSink, NodeCache
from ..services import Services
from .background import InProcessBackgroundRunner, execute_job
from .buffer import EventBuffer
from .eager import run_eagerly
from .metrics import MemoryMetricsSink
from .plan import Plan, PlannedNode, compile_plan
from .run import Listener, Run, RunResult

DEFAULT_TENANT = "1"
DEFAULT_SESSION = "default"


class InputError(AkisError):
    """Run inputs that cannot be used (bad tenant or session id, not a mapping)."""


class RunHandle:
    """A started run: await ``result()``, or ``cancel()`` it (every running node is cancelled)."""

    def __init__(self, run: Run, task: asyncio.Task[RunResult]) -> None:
        self.run_id = run.run_id
        self._run = run
        self._task = task

    async def result(self) -> RunResult:
        return await self._task

    def cancel(self) -> None:
        self._task.cancel()

    def done(self) -> bool:
        return self._task.done()

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """``callback()`` once the run's task is over, however it ended."""

        def done(task: asyncio.Task[RunResult]) -> None:
            if not task.cancelled():
                task.exception()  # retrieved: a failure is reported by the run's own events and result
            callback()

        self._task.add_done_callback(done)


class FanOut:
    """Several listeners as one: each event goes to each, in order."""

    __slots__ = ("listeners",)

    def __init__(self, *listeners: Listener) -> None:
        self.listeners = listeners

    def __call__(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


class Engine:
    def __init__(
        self, *, registry: NodeRegistry | None = None, services: Services | None = None,
        cache: NodeCache | None = None, metrics: MetricsSink | None = None,
        background: BackgroundRunner | None = None, publisher: EventPublisher | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.services = services or Services()
        self.cache = cache
        self.metrics: MetricsSink = metrics if metrics is not None else MemoryMetricsSink()
        self.background: BackgroundRunner = background or InProcessBackgroundRunner(
            partial(execute_job, registry=self.registry, services=self.services)
        )
        self.publisher = publisher
        # keyed by (id of the document, tenant): an entry holds its document (``plan.flow``), so
        # no other object can take that id while the entry is kept. Callers run a document they
        # no longer change (the editor runs a snapshot of its draft); a digest of the content
        # would cost about 14 us a run (8% of the throughput bench's CPU per run).
        self._plans: LRUCache[tuple[int, str], Plan] = LRUCache(maxsize=256)
        self._after_success = self._queue_background  # one bound method for every run
        if self.services.engine is None:
            self.services.engine = self  # what sub-flow, iterate and flow tools run inner flows with

    # -- public API ---------------------------------------------------------------------------
    async def run(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None,
                  **options: Any) -> RunResult:
        """Run to the end and return the result; background nodes go on after it returns."""
        return await self._prepare(flow, inputs, **options).execute()  # no task of its own

    async def stream(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None,
                     *, include_background: bool = True, **options: Any) -> AsyncIterator[Event]:
        """Yield every event of the run; closing the iterator early cancels the run."""
        buffer: EventBuffer[Event] = EventBuffer()
        handle = self.start(flow, inputs, on_event=buffer.push, **options)
        pending_background: int | None = None
        events, create_future = buffer.items, buffer.loop.create_future
        try:
            while True:
                while not events:  # the wait, inlined: one coroutine less per event
                    waiter = buffer.waiter = create_future()
                    await waiter
                event = events.popleft()
                yield event
                if event.event == RUN_FINISHED:
                    if not include_background:
                        return
                    result = await handle.result()
                    pending_background = len(result.background)
                elif event.event == BACKGROUND_FINISHED and pending_background is not None:
                    pending_background -= 1
                if pending_background == 0:
                    return
        finally:
            if not handle.done():
                handle.cancel()
                await asyncio.gather(handle.result(), return_exceptions=True)

    def start(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None, *,
              tenant_id: str | int | None = None, session_id: str | None = None, run_id: str | None = None,
              on_event: Listener | None = None, warmup: bool = False,
              trace_parent: Mapping[str, str] | None = None,
              trace_attributes: Mapping[str, str] | None = None) -> RunHandle:
        """Validate, compile (cached) and start a run on the current event loop. ``trace_parent``:
        the caller's W3C headers (``traceparent``, ``tracestate``); the run's span joins that
        trace (tracing on only; without them it is a child of the current span, if any).
        ``trace_attributes``: more attributes of the run's span (what the run belongs to)."""
        run = self._prepare(flow, inputs, tenant_id=tenant_id, session_id=session_id, run_id=run_id,
                            on_event=on_event, warmup=warmup, trace_parent=trace_parent,
                            trace_attributes=trace_attributes)
        task = asyncio.get_running_loop().create_task(run.execute(), name=f"akis-run-{run.run_id}")
        return RunHandle(run, task)

    def start_child(self, flow: FlowDocument, inputs: dict[str, Any], *, tenant_id: str, session_id: str,
                    on_event: Listener | None, warmup: bool = False) -> RunHandle:
        """A run inside a node of another run (a sub-flow, an iteration's item, a flow tool):
        the same registry, cache, metrics and background runner; its events go to ``on_event``
        only, never to the conversation's channel (the outer node reports them as its steps)."""
        run = self._prepare(flow, inputs, tenant_id=tenant_id, session_id=session_id, on_event=on_event,
                            warmup=warmup, publish=False)
        task = asyncio.get_running_loop().create_task(run.execute(), name=f"akis-child-run-{run.run_id}")
        return RunHandle(run, task)

    async def run_child(self, flow: FlowDocument, inputs: dict[str, Any], *, tenant_id: str,
                        session_id: str) -> RunResult:
        """:meth:`start_child` without events, run in the caller's task (an iteration's item, a
        flow tool): only the result is wanted."""
        return await self._prepare(flow, inputs, tenant_id=tenant_id, session_id=session_id, publish=False).execute()

    def _prepare(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None, *,
                 tenant_id: str | int | None = None, session_id: str | None = None, run_id: str | None = None,
                 on_event: Listener | None = None, warmup: bool = False,
                 trace_parent: Mapping[str, str] | None = None, publish: bool = True,
                 trace_attributes: Mapping[str, str] | None = None) -> Run:
        """Validate, compile (cached) and set up a run; nothing runs yet."""
        document = load_flow(flow)
        values = dict(inputs or {})
        tenant = _tenant(tenant_id, values)
        session = _session(session_id, values)
        plan = self.plan(document, tenant)
        run_id = run_id or uuid.uuid4().hex
        values.update(tenant_id=tenant, session_id=session, run_id=run_id)
        listener = on_event
        if self.publisher is not None and publish:
            published = partial(self.publisher.publish, channel_for(tenant, session))
            listener = published if listener is None else FanOut(listener, published)
        return Run(plan, values, run_id=run_id, tenant_id=tenant, session_id=session, services=self.services,
                   cache=self.cache, metrics=self.metrics, listener=listener, warmup=warmup,
                   on_succeeded=self._after_success, trace_parent=dict(trace_parent) if trace_parent else None,
                   trace_attributes=dict(trace_attributes) if trace_attributes else None)

    def plan(self, flow: FlowDocument, tenant_id: str) -> Plan:
        """Validate and compile ``flow`` for a tenant once; later runs reuse the plan."""
        key = (id(flow), tenant_id)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = compile_plan(flow, self.registry, tenant_id)
        return plan

    # -- internals ----------------------------------------------------------------------------
    def _queue_background(self, run: Run, result: RunResult) -> None:
        """After a run succeeded: its background nodes, in plan order, each stepped at once and
        carried on by a task only if it waits (an in-memory save never does)."""
        if run.deferred:
            for node in run.plan.background_by_order:
                if run.deferred >> node.order & 1:
                    # bench/bench_throughput.py: -3% without this (a task per background node)
                    result.background.append(run_eagerly(run.loop, self._background(run, node)))

    async def _background(self, run: Run, node: PlannedNode) -> BackgroundOutcome:
        """Render the node's job against the run's values, submit it, report its outcome."""
        try:
            outcome = await self.background.submit(run.background_job(node))
        except Exception as exc:  # noqa: BLE001 - a config that does not render, a queue that is down
            outcome = _failed(node, exc)
        self._report(run, node, outcome)
        return outcome

    def _report(self, run: Run, node: PlannedNode, outcome: BackgroundOutcome) -> None:
        run.emit(Event(BACKGROUND_FINISHED, run.run_id, run.now_ms(), node_id=outcome.node_id, node_type=node.type_id,
                       duration_ms=outcome.duration_ms, status=outcome.status, error=outcome.error))
        if not run.warmup:
            self.metrics.record(MetricRow(run.tenant_id, run.plan.flow_id, run.run_id, outcome.node_id, node.type_id,
                                          outcome.duration_ms, "off", outcome.status))


def _failed(node: PlannedNode, exc: Exception) -> BackgroundOutcome:
    return BackgroundOutcome(node.id, "failed", 0.0, f"{type(exc).__name__}: {exc}", time.time())


def _tenant(explicit: str | int | None, values: dict[str, Any]) -> str:
    given = values.get("tenant_id")
    if explicit is not None and given is not None and str(given) != str(explicit):
        raise InputError(f"inputs name tenant {given!r} but the run is for tenant {explicit!r}")
    tenant = str(explicit if explicit is not None else given if given is not None else DEFAULT_TENANT)
    if not TENANT_ID.fullmatch(tenant):
        raise InputError(f"tenant id {tenant!r} is not valid: letters, digits and '-', at most 64")
    return tenant


def _session(explicit: str | None, values: dict[str, Any]) -> str:
    session = str(explicit if explicit is not None else values.get("session_id") or DEFAULT_SESSION)
    if not SESSION_ID.fullmatch(session):
        raise InputError(f"session id {session!r} is not valid: letters, digits, '_' and '-', 1 to 128")
    return session

