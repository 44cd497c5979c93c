"""The runs service: start a run (of a stored flow or of the editor's draft), follow, cancel and
read runs. The HTTP API and the editor's run pane both start runs here, so every run is recorded
(run row and node metrics), streams on its conversation's channel, and can be resumed and
cancelled by id, whichever door it came in by.

A run starts even while the cross-process relay (Redis) is down: its events are then kept in
this process so its own stream can resume, and :func:`relay_state` says ``degraded``.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from editor.observability.metrics import AppMetrics
from runtime.channels import ChannelHub, ChannelUnavailable, check_session_id, check_tenant_id
from runtime.engine.engine import Engine, InputError, RunHandle, channel_for
from runtime.engine.inspect import NodeRecord, RecordSink, start_inspected
from runtime.engine.resume import Known
from runtime.errors import AkisError, FlowLoadError, FlowValidationError, Problem
from runtime.events import Event
from runtime.flow.model import FlowDocument
from runtime.logs import reset_run, set_run
from storage.db import Database
from storage.errors import StorageError
from storage.models import Run
from storage.recorder import NO_LABELS, RunLabels, RunRecorder
from storage.repos import runs as runs_repo

from .active_runs import ActiveRun, ActiveRuns
from .errors import FlowProblems, Invalid, NotFound
from .flows import FlowService
from .queued_runs import QueuedRuns, QueueUnavailable, RemoteRunHandle
from .variants import VariantChooser

log = logging.getLogger(__name__)


class Hub(Protocol):
    """What the app asks of a channel hub (the in-process one, or Redis's across processes).
    ``available`` is False while the cross-process relay is down (runs go on)."""

    @property
    def available(self) -> bool: ...

    def publish(self, channel: str, event: Event) -> None: ...

    def subscribe(self, channel: str, after: int | None = None) -> AsyncIterator[Event]: ...

    async def cursor(self, channel: str) -> int: ...

    def lost(self, channel: str, run_id: str) -> int: ...

    def health(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...


RelayState = Literal["ok", "degraded", "off"]
Listener = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class Reuse:
    """What a run starts with: ``known`` node outputs settled without running them (run from
    here), ``seed`` outputs of nodes outside the document that its templates read (one node
    with pinned inputs); ``on_records`` also gets the run's node records when it ends."""

    known: Known | None = None
    seed: Mapping[str, dict[str, Any]] | None = None
    on_records: RecordSink | None = None


@dataclass(frozen=True, slots=True)
class StartedRun:
    """A run under way: await ``handle.result()`` or follow its events through the listener."""

    run_id: str
    flow_id: str
    session_id: str
    channel: str
    version: int | None
    handle: RunHandle
    entry: ActiveRun
    relay_down: str | None  # why the cross-process relay could not carry it, or None
    document: FlowDocument | None = None  # the flow it runs (an experiment may have picked the version)


class RunService:
    def __init__(self, engine: Engine, hub: Hub | None, recorder: RunRecorder, database: Database,
                 flows: FlowService, active: ActiveRuns | None = None) -> None:
        self.engine = engine
        self.hub = hub
        self.recorder = recorder
        self.database = database
        self.flows = flows
        self.active = active or ActiveRuns()
        # Events of runs started while the relay was down, kept here so their own stream resumes.
        self.kept = ChannelHub(max_events=10_000, retention_s=600.0)
        self.prometheus: AppMetrics | None = None  # set when /metrics is on: every run then feeds it
        self.variants: VariantChooser | None = None  # A/B tests: a flow's running experiment picks the version
        self.queued: QueuedRuns | None = None  # set in queue mode (AKIS_RUN_MODE): workers execute runs
        # each node's inputs, rendered config and output are recorded (inspection; docs/run_pane.md)
        self.inspect = True

    async def start_stored(self, tenant: str, flow_id: str, inputs: Mapping[str, object], *,
                           session_id: str | None = None, version: int | None = None,
                           listener: Listener | None = None,
                           trace_parent: Mapping[str, str] | None = None,
                           labels: RunLabels = NO_LABELS) -> StartedRun:
        """Run a stored version (the current one by default); :class:`FlowProblems` when it has any.
        ``labels``: the experiment variant or evaluation the run belongs to, stored on its row.
        With no ``version`` and no labels, a running experiment on the flow picks the variant (sticky per session)."""
        if version is None and labels == NO_LABELS and self.variants is not None:
            session_id = session_id or str(inputs.get("session_id") or "") or uuid.uuid4().hex
            pick = await self.variants.choose(tenant, flow_id, session_id)
            if pick is not None:
                flow_id, version, labels = pick.flow_id, pick.version, pick.labels
        stored = await self.flows.read(tenant, flow_id, version)
        if stored.problems:
            raise FlowProblems(f"the flow has {len(stored.problems)} problem(s) and cannot run", list(stored.problems))
        return await self.start(tenant, stored.document, inputs, session_id=session_id, version=stored.version,
                                listener=listener, trace_parent=trace_parent, labels=labels)

    async def start(self, tenant: str, document: FlowDocument, inputs: Mapping[str, object], *,
                    session_id: str | None = None, version: int | None = None,
                    listener: Listener | None = None,
                    trace_parent: Mapping[str, str] | None = None,
                    labels: RunLabels = NO_LABELS, reuse: Reuse | None = None) -> StartedRun:
        """Start ``document`` (a stored version, or the editor's draft with the version it was
        loaded from). ``session_id`` may also come in ``inputs``; both must agree.
        ``trace_parent``: the caller's W3C trace headers, which the run's span continues.
        ``reuse``: node outputs known before the run (run from here, one node with pinned
        inputs: ``editor/services/node_runs.py``) and who else gets its node records."""
        run_inputs = dict(inputs)
        given = run_inputs.pop("session_id", None)
        if session_id and given is not None and str(given) != session_id:
            raise Invalid("session_id differs between the body and its inputs")
        session = session_id or (str(given) if given is not None else uuid.uuid4().hex)
        run_id = uuid.uuid4().hex
        try:
            channel = channel_for(check_tenant_id(tenant), check_session_id(session))
            cursor, relay_down = await self._cursor(channel)
        except AkisError as exc:  # a tenant or session id a channel cannot carry
            raise Invalid(str(exc)) from None
        if self.queued is not None and relay_down is None and reuse is None:
            try:
                return await self._enqueue(tenant, document, run_inputs, session, version, listener, trace_parent,
                                           labels, channel, cursor)
            except QueueUnavailable as exc:  # Redis went away since the cursor: run here, degraded
                log.warning("%s: running the run in this process", exc)
                cursor, relay_down = self.kept.last_cursor(channel), str(exc)
        local = self.kept if relay_down is not None else None  # queue mode too: Redis is down, run here
        recorder = self.recorder
        observer = self.prometheus.observer(tenant, str(document.flow_id)) if self.prometheus is not None else None

        def on_event(event: Event) -> None:
            recorder.observe(event)
            if observer is not None:
                observer(event)
            if local is not None:
                local.publish(channel, event)
            if listener is not None:
                listener(event)

        recorder.expect(run_id, {**run_inputs, "session_id": session}, version, labels)
        # the run's task (and every task it starts) inherits its ids: each log line carries them
        ids = set_run(run_id, tenant)
        try:
            if self.inspect or reuse is not None:
                handle = start_inspected(self.engine, document, run_inputs, tenant_id=tenant, session_id=session,
                                         run_id=run_id, on_event=on_event, sink=self._sink(reuse),
                                         known=reuse.known if reuse else None, seed=reuse.seed if reuse else None,
                                         trace_parent=trace_parent, trace_attributes=labels.span_attributes())
            else:
                handle = self.engine.start(document, run_inputs, tenant_id=tenant, session_id=session, run_id=run_id,
                                           trace_attributes=labels.span_attributes(),
                                           on_event=on_event, trace_parent=trace_parent)
        except (FlowValidationError, FlowLoadError) as exc:
            raise FlowProblems(f"the flow has {len(exc.problems)} problem(s) and cannot run", list(exc.problems)) \
                from None
        except (InputError, AkisError) as exc:
            raise FlowProblems(str(exc), [Problem("input", str(exc))]) from None
        finally:
            reset_run(ids)
        entry = ActiveRun(run_id, tenant, str(document.flow_id), channel, cursor, handle, local=local)
        self.active.add(entry)
        return StartedRun(run_id, str(document.flow_id), session, channel, version, handle, entry, relay_down,
                          document)

    def _sink(self, reuse: Reuse | None) -> RecordSink:
        """Node records go to the recorder (written with the run's row), and to ``reuse.on_records``."""
        attach = self.recorder.attach_nodes
        extra = reuse.on_records if reuse is not None else None
        if extra is None:
            return attach

        def both(run_id: str, records: list[NodeRecord]) -> None:
            attach(run_id, records)
            extra(run_id, records)
        return both

    async def _enqueue(self, tenant: str, document: FlowDocument, inputs: dict[str, object], session: str,
                       version: int | None, listener: Listener | None, trace_parent: Mapping[str, str] | None,
                       labels: RunLabels, channel: str, cursor: int) -> StartedRun:
        """Queue mode: check the flow here (problems answer at once), store and queue the run."""
        assert self.queued is not None
        try:
            self.engine.plan(document, check_tenant_id(tenant))
        except (FlowValidationError, FlowLoadError) as exc:
            raise FlowProblems(f"the flow has {len(exc.problems)} problem(s) and cannot run", list(exc.problems)) \
                from None
        except AkisError as exc:
            raise FlowProblems(str(exc), [Problem("input", str(exc))]) from None
        observer = self.prometheus.observer(tenant, str(document.flow_id)) if self.prometheus is not None else None
        follow = listener
        if observer is not None:
            def follow(event: Event) -> None:
                observer(event)
                if listener is not None:
                    listener(event)
        run_id, handle, entry = await self.queued.start(
            tenant, document, dict(inputs), session=session, version=version, listener=follow,
            trace_parent=trace_parent, labels=labels, channel=channel, cursor=cursor)
        self.active.add(entry)
        return StartedRun(run_id, str(document.flow_id), session, channel, version, handle, entry, None, document)

    async def locate(self, tenant: str, run_id: str) -> ActiveRun | None:
        """Where a run's events are: a run of this process, or (queue mode) any process's run."""
        entry = self.active.get(tenant, run_id)
        if entry is None and self.queued is not None:
            entry = await self.queued.locate(tenant, run_id)
        return entry

    def events_of(self, run: ActiveRun, after_index: int) -> AsyncIterator[Event]:
        """Where a resumed stream reads a located run's events: this process's copy (a run
        started while the relay was down), queue mode's follower (patient with Redis, ends from
        the run's row), or the run's channel. :class:`NotFound` with no relay at all."""
        if run.local is not None:
            return run.local.subscribe(run.channel, after=run.start_cursor)
        if self.queued is not None and (run.handle is None or isinstance(run.handle, RemoteRunHandle)):
            return self.queued.events(run.tenant_id, run.run_id, run.channel, run.start_cursor, after_index)
        if self.hub is None:
            raise NotFound(f"run {run.run_id!r}")
        return self.hub.subscribe(run.channel, after=run.start_cursor)

    async def cancel_any(self, tenant: str, run_id: str) -> bool:
        """Cancel a run of this process or (queue mode) of any process: True when it was still going."""
        entry = self.active.get(tenant, run_id)
        if entry is not None and entry.handle is not None and not isinstance(entry.handle, RemoteRunHandle):
            return self.cancel(tenant, run_id)
        if self.queued is not None:
            return await self.queued.cancel(tenant, run_id)
        return self.cancel(tenant, run_id)

    def recent(self, tenant: str, run_id: str) -> ActiveRun:
        """A run of this process (running, or ended in the last minutes); :class:`NotFound` otherwise."""
        run = self.active.get(tenant, run_id)
        if run is None:
            raise NotFound(f"run {run_id!r}")
        return run

    def cancel(self, tenant: str, run_id: str) -> bool:
        """Cancel a run of this process: True when it was still running."""
        run = self.recent(tenant, run_id)
        if run.handle is None or run.handle.done():
            return False
        run.handle.cancel()
        return True

    def relay_state(self, entry: ActiveRun) -> RelayState:
        """``off`` (no hub), ``degraded`` (subscribers elsewhere could not follow all of the run:
        the relay was down at its start, is down now, or lost some of its events), else ``ok``."""
        if self.hub is None:
            return "off"
        if entry.local is not None or not self.hub.available or self.hub.lost(entry.channel, entry.run_id):
            return "degraded"
        return "ok"

    async def stored(self, tenant: str, run_id: str) -> Run:
        """A recorded run; :class:`NotFound` for another tenant's or an unknown one."""
        try:
            row = await self.database.run(runs_repo.get_run, tenant, run_id)
        except StorageError:
            row = None
        if row is None:
            raise NotFound(f"run {run_id!r}")
        return row

    async def list_stored(self, tenant: str, flow_id: str | None = None, limit: int = 50) -> list[Run]:
        """Recorded runs, newest first."""
        return await self.database.run(runs_repo.list_runs, tenant, flow_id, limit)

    async def _cursor(self, channel: str) -> tuple[int, str | None]:
        """Where the channel is now (a subscriber resumes after it), and why the relay is down if it is."""
        if self.hub is None:
            return 0, None
        try:
            return await self.hub.cursor(channel), None
        except ChannelUnavailable as exc:  # bounded; the hub logged and counted it
            return self.kept.last_cursor(channel), str(exc)
