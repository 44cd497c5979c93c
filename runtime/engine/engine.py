"""The engine's public face: ``run`` (a result), ``stream`` (events) and ``start`` (a handle
that can be cancelled). It owns no state about a run beyond the compiled-plan cache."""
from __future__ import annotations

import asyncio
import os
import re
import time
from collections import OrderedDict
from functools import partial
from typing import Any, AsyncIterator, Callable

from ..errors import AkisError
from ..events import BACKGROUND_FINISHED, RUN_FINISHED, Event
from ..flow.loader import load_flow
from ..flow.model import FlowDocument
from ..nodes.registry import NodeRegistry, default_registry
from ..ports import BackgroundOutcome, BackgroundRunner, EventPublisher, MetricRow, MetricsSink, NodeCache
from ..services import Services
from .background import InProcessBackgroundRunner, execute_job
from .metrics import MemoryMetricsSink
from .plan import Plan, compile_plan
from .run import Listener, Run, RunResult

TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_TENANT = "1"
DEFAULT_SESSION = "default"


class InputError(AkisError):
    """Run inputs that cannot be used (bad tenant or session id, not a mapping)."""


def channel_for(tenant_id: str, session_id: str) -> str:
    return f"tenant.{tenant_id}.conversation.{session_id}"


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
        self._plans: OrderedDict[tuple[int, str], Plan] = OrderedDict()
        self._after_success = self._queue_background  # one bound method for every run
        self._to_submit: list[Any] = []  # run, node, future; run, node, future; ...
        self._flush_on: asyncio.AbstractEventLoop | None = None

    # -- public API ---------------------------------------------------------------------------
    async def run(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None,
                  **options: Any) -> RunResult:
        """Run to the end and return the result; background nodes go on after it returns."""
        return await self._prepare(flow, inputs, **options).execute()  # no task of its own

    async def stream(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None,
                     *, include_background: bool = True, **options: Any) -> AsyncIterator[Event]:
        """Yield every event of the run; closing the iterator early cancels the run."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        handle = self.start(flow, inputs, on_event=queue.put_nowait, **options)
        pending_background: int | None = None
        try:
            while True:
                event = await queue.get()
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
              on_event: Listener | None = None, warmup: bool = False) -> RunHandle:
        """Validate, compile (cached) and start a run on the current event loop."""
        run = self._prepare(flow, inputs, tenant_id=tenant_id, session_id=session_id, run_id=run_id,
                            on_event=on_event, warmup=warmup)
        task = asyncio.get_running_loop().create_task(run.execute(), name=f"akis-run-{run.run_id}")
        return RunHandle(run, task)

    def _prepare(self, flow: FlowDocument | dict[str, Any] | str, inputs: dict[str, Any] | None = None, *,
                 tenant_id: str | int | None = None, session_id: str | None = None, run_id: str | None = None,
                 on_event: Listener | None = None, warmup: bool = False) -> Run:
        """Validate, compile (cached) and set up a run; nothing runs yet."""
        document = load_flow(flow)
        values = dict(inputs or {})
        tenant = _tenant(tenant_id, values)
        session = _session(session_id, values)
        plan = self.plan(document, tenant)
        run_id = run_id or _new_run_id()
        values.update(tenant_id=tenant, session_id=session, run_id=run_id)
        listener = on_event
        if self.publisher is not None:
            published = partial(self.publisher.publish, channel_for(tenant, session))
            listener = published if listener is None else FanOut(listener, published)
        return Run(plan, values, run_id=run_id, tenant_id=tenant, session_id=session, services=self.services,
                   cache=self.cache, metrics=self.metrics, listener=listener, warmup=warmup,
                   on_succeeded=self._after_success)

    def plan(self, flow: FlowDocument, tenant_id: str) -> Plan:
        """Validate and compile ``flow`` for a tenant once; later runs reuse the plan."""
        key = (id(flow), tenant_id)
        plan = self._plans.get(key)
        if plan is None or plan.flow is not flow:
            plan = compile_plan(flow, self.registry, tenant_id)
            self._plans[key] = plan
            if len(self._plans) > 256:
                self._plans.popitem(last=False)
        return plan

    # -- internals ----------------------------------------------------------------------------
    def _queue_background(self, run: Run, result: RunResult) -> None:
        """After a run succeeded: its background nodes, in plan order, each with a future."""
        if run.deferred:
            for node in run.plan.background_by_order:
                if run.deferred >> node.order & 1:
                    result.background.append(self._start_background(run.loop, run, node))

    def _start_background(self, loop: asyncio.AbstractEventLoop, run: Run, node: Any) -> asyncio.Future[Any]:
        """A future for one background node: it is rendered and queued on the next loop turn (off
        the result's path), reported when it has run; callbacks, not a task of its own. The runs
        that finish in one turn share one callback."""
        done: asyncio.Future[BackgroundOutcome] = loop.create_future()
        self._to_submit += (run, node, done)  # flat, three entries a job: no tuple per job
        if self._flush_on is not loop:
            self._flush_on = loop
            loop.call_soon(self._submit_queued, loop)
        return done

    def _submit_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        queued, self._to_submit, self._flush_on = self._to_submit, [], None
        for k in range(0, len(queued), 3):
            run, node, done = queued[k], queued[k + 1], queued[k + 2]
            if run.loop is loop:  # not one left over from a loop that was closed meanwhile
                self._submit_background(run, node, done)

    def _submit_background(self, run: Run, node: Any, done: asyncio.Future[BackgroundOutcome]) -> None:
        if done.done():
            return  # cancelled before it was queued
        try:
            submitted = asyncio.ensure_future(self.background.submit(run.background_job(node)))
        except Exception as exc:  # a config that does not render, a queue that is down
            self._finish_background(run, node, done, _failed(node, exc))
            return
        if submitted.done():  # it ran at once (the in-process runner steps jobs eagerly)
            self._background_done(run, node, done, submitted)
            return
        submitted.add_done_callback(partial(self._background_done, run, node, done))
        done.add_done_callback(partial(_cancel_if_cancelled, submitted))  # as cancelling a task awaiting it

    def _background_done(self, run: Run, node: Any, done: asyncio.Future[BackgroundOutcome],
                         submitted: asyncio.Future[BackgroundOutcome]) -> None:
        if done.done():
            return
        if submitted.cancelled():
            done.cancel()
            return
        exc = submitted.exception()
        if exc is not None and not isinstance(exc, Exception):
            done.set_exception(exc)
            return
        self._finish_background(run, node, done, _failed(node, exc) if exc is not None else submitted.result())

    def _finish_background(self, run: Run, node: Any, done: asyncio.Future[BackgroundOutcome],
                           outcome: BackgroundOutcome) -> None:
        try:
            self._report(run, node, outcome)
        except Exception as error:  # a listener that raises: the awaiting side sees it, as from a task
            done.set_exception(error)
            return
        done.set_result(outcome)

    def _report(self, run: Run, node: Any, outcome: BackgroundOutcome) -> BackgroundOutcome:
        run.emit(Event(BACKGROUND_FINISHED, run.run_id, run.now_ms(), node_id=outcome.node_id, node_type=node.type_id,
                       duration_ms=outcome.duration_ms, status=outcome.status, error=outcome.error))
        if not run.warmup:
            self.metrics.record(MetricRow(run.tenant_id, run.plan.flow_id, run.run_id, outcome.node_id, node.type_id,
                                          outcome.duration_ms, "off", outcome.status))
        return outcome


def _new_run_id() -> str:
    """``uuid.uuid4().hex`` without building a UUID object: 16 random bytes, version 4, RFC 4122 variant."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def _failed(node: Any, exc: BaseException) -> BackgroundOutcome:
    return BackgroundOutcome(node.id, "failed", 0.0, f"{type(exc).__name__}: {exc}", time.time())


def _cancel_if_cancelled(target: asyncio.Future[Any], future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        target.cancel()


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


Callback = Callable[[Event], None]
