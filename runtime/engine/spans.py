"""The run's and its nodes' spans (tracing on only: the run calls these after checking).

Nothing is built per node while the run goes: the run's span is a span context made current
for the run's task, and at the run's end one record per node execution is made from the run's
own timing list (start, duration, status, cache outcome, error) and exported with the run's
(tracing.export). bench/bench_tracing.py: SDK spans started and ended per node cost a seed
run 0.28 of its throughput with every trace sampled.

A node that may call out (a task of its own and not a known-quiet type) gets its span id when
it starts and that span made current in its task while it runs, so what it sends
(``http_request``, a model call) carries its ``traceparent`` and a model call's span is its
child. A run whose span is not sampled makes no records; what its nodes send carries the
run's (unsampled) context, so the next service follows the decision.
"""
from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from .. import tracing
from ..span_export import SpanRecord, add_templated, common_ids, encode_span, key_values, span_tail

if TYPE_CHECKING:
    from ..ports import BackgroundJob
    from .clock import NodeTiming
    from .plan import PlannedNode
    from .run import Run

class RunSpan:
    """The run's span context (and its ids as the strings events and jobs carry), its parent,
    when it began, and what its nodes add to their spans (``notes[node index]``, made on
    first use: attributes set while the node ran, such as the attempt; under keys that start
    with ``_``, its span id, exception and error). One object per run in flight: the collector
    walks every one (bench/bench_tracing.py)."""

    __slots__ = ("attributes", "extra", "flow_id", "notes", "parent", "run_id", "session_id", "span", "start_ns",
                 "traceparent")

    def __init__(self, span: Any, parent: Any, run: Run, start_ns: int) -> None:
        self.span, self.parent, self.start_ns = span, parent, start_ns
        self.run_id, self.flow_id, self.session_id = run.run_id, run.plan.flow_id, run.session_id
        self.attributes = run.trace_attributes  # what the run belongs to (an experiment's variant), or None
        here = span.get_span_context()
        trace_id = format(here.trace_id, "032x")
        self.extra = {"trace_id": trace_id}  # the run.started and run.finished events' (read-only)
        self.traceparent = f"00-{trace_id}-{here.span_id:016x}-{int(here.trace_flags):02x}"
        self.notes: dict[int, dict[str, Any]] | None = None

    @property
    def trace_id(self) -> str:
        return self.extra["trace_id"]

    def get_span_context(self) -> Any:
        return self.span.get_span_context()

    def note(self, index: int, key: str, value: Any) -> dict[str, Any]:
        if self.notes is None:
            self.notes = {}
        notes = self.notes.get(index)
        if notes is None:
            notes = self.notes[index] = {}
        notes[key] = value
        return notes


class NodeSpan:
    """A node's span made current: its id and the token that undoes making it current."""

    __slots__ = ("span_id", "token")

    def __init__(self, span_id: int, token: Any) -> None:
        self.span_id, self.token = span_id, token


def start_run(run: Run) -> None:
    """The run's span context, child of the caller's (``trace_parent``) or of the current span,
    current for the run's task from here (node tasks inherit it) until :func:`end_run`."""
    span, parent = tracing.begin("akis.run", tracing.extract(run.trace_parent), {  # what a sampler may look at
        "akis.run.id": run.run_id, "akis.flow.id": run.plan.flow_id, "akis.tenant.id": run.tenant_id})
    start_ns = time.time_ns() - int((time.perf_counter() - run.t0) * 1e9)  # the run's t0 on the wall clock
    run.trace = RunSpan(span, parent, run, start_ns)
    run.trace_ctx = tracing.context_of(span)
    run.trace_token = tracing.attach(run.trace_ctx)
    run.trace_nodes = span.get_span_context().trace_flags.sampled


def end_run(run: Run, status: str, error: str | None, failed_node: str | None) -> None:
    """Stop the run's span being current (the run's task, or its caller's); a sampled run is
    handed to the exporter, which makes its spans on its own thread."""
    if run.trace_token is not None:
        token, run.trace_token = run.trace_token, None
        tracing.detach(token)
    if run.trace_nodes:
        run.trace_nodes = False  # exported once
        tracing.export(RunEnd(run, status, error, failed_node), len(run.plan.nodes) + 1)


def start_node(run: Run, node: PlannedNode) -> NodeSpan:
    """Make the node's span current in its task (the run calls it for a node with ``own_span``:
    one that may call out, is cached (the cache sets the tier that answered on it) or has a
    retry or timeout policy (the attempt is set on it)). What is set on it
    (tracing.set_attribute) lands on its record."""
    span_id = tracing.new_id()
    notes = run.trace.note(node.index, "_span_id", span_id)
    span = tracing.child(run.trace.span, span_id, notes)
    return NodeSpan(span_id, tracing.attach(tracing.context_of(span, run.trace_ctx)))


def end_node(node_span: NodeSpan | None) -> None:
    if node_span is not None:
        tracing.detach(node_span.token)


def failed(run: Run, node: PlannedNode, exc: BaseException, error: str) -> None:
    """The node raised: an ``exception`` event on its span, and ``error`` (what the run says)."""
    run.trace.note(node.index, "_exception", (type(exc).__qualname__, str(exc), time.time_ns()))
    run.trace.note(node.index, "_error", error)


class RunEnd:
    """A finished sampled run, queued for export: its span and one per node execution, made
    from the run's timing list when the exporter gets to it (its timings are final by then).
    The node spans that end the same way share their encoded attributes (span_export.py)."""

    __slots__ = ("end_ns", "error", "failed_node", "nodes", "status", "tenant", "timings", "trace")

    def __init__(self, run: Run, status: str, error: str | None, failed_node: str | None) -> None:
        self.trace: RunSpan = run.trace
        self.status, self.error, self.failed_node = status, error, failed_node
        self.tenant, self.nodes, self.timings = run.tenant_id, run.plan.nodes, run.clock.by_index
        self.end_ns = time.time_ns()

    def _run_record(self) -> SpanRecord:
        trace = self.trace
        here = trace.get_span_context()
        parent = trace.parent
        attributes = {"akis.run.id": trace.run_id, "akis.flow.id": trace.flow_id, "akis.tenant.id": self.tenant,
                      "akis.session.id": trace.session_id, "akis.status": self.status,
                      "akis.node.failed": self.failed_node}
        if trace.attributes:
            attributes.update(trace.attributes)
        return SpanRecord("akis.run", here.trace_id, here.span_id, parent.span_id if parent is not None else 0,
                          bool(parent is not None and parent.is_remote), trace.start_ns, self.end_ns, attributes,
                          self.error if self.status != "succeeded" else None, trace_state=_state(here))

    def _node_record(self, i: int, timing: NodeTiming) -> SpanRecord:
        node = self.nodes[i]
        here = self.trace.get_span_context()
        start, end, status = self._times(timing)
        attributes = _node_attributes(node.id, node.type_id, self.tenant, status, timing.cache)
        error = timing.error if status != "cancelled" else "cancelled"
        events: tuple[tuple[str, int, dict[str, Any]], ...] = ()
        note = self.trace.notes.get(i) if self.trace.notes is not None else None
        span_id = 0
        if note is not None:
            span_id = note.get("_span_id", 0)
            error = note.get("_error", error)
            attributes.update((k, v) for k, v in note.items() if k[0] != "_")
            if "_exception" in note:
                kind, message, at = note["_exception"]
                events = (("exception", at, {"exception.type": kind, "exception.message": message,
                                             "exception.escaped": False}),)
        if error is not None:
            attributes["akis.node.error"] = error
            if status == "failed":
                attributes["error.type"] = error.split(":", 1)[0][:100]
        return SpanRecord(f"akis.node {node.type_id}", here.trace_id, span_id or tracing.new_id(), here.span_id,
                          False, start, end, attributes, error if status == "failed" else None, events,
                          trace_state=_state(here))

    def _times(self, timing: NodeTiming) -> tuple[int, int, str]:
        """(start, end, status): a node still running when the run ended was cancelled."""
        start = self.trace.start_ns + int(timing.start_ms * 1e6)
        if timing.status == "running":
            return start, self.end_ns, "cancelled"
        return start, start + int(timing.duration_ms * 1e6), timing.status

    def _executed(self) -> list[tuple[int, NodeTiming]]:
        return [(i, t) for i, t in enumerate(self.timings) if t is not None and t.status != "skipped"]

    def records(self) -> list[SpanRecord]:
        return [self._run_record()] + [self._node_record(i, t) for i, t in self._executed()]

    def encoded(self) -> tuple[bytes, int]:
        """The spans as protobuf: a span that ended plainly (no error, nothing noted but its id)
        is its id, times and what its run's spans share in front of the bytes every such span
        of that node (or flow) shares (span_export.add_templated)."""
        here, trace = self.trace.get_span_context(), self.trace
        if here.trace_state or self.error is not None:
            return b"".join(encode_span(r) for r in self.records()), len(self.records())
        out: list[bytes] = []
        parent = trace.parent
        add_templated(out, ("akis.run", trace.flow_id, self.tenant, self.status, self.failed_node,
                            parent is not None and parent.is_remote), _run_tail,
                      common_ids(here.trace_id, parent.span_id if parent is not None else 0),
                      here.span_id.to_bytes(8, "big"), trace.start_ns, self.end_ns,
                      key_values({"akis.run.id": trace.run_id, "akis.session.id": trace.session_id,
                                  **(trace.attributes or {})}))
        executed = self._executed()
        common = common_ids(here.trace_id, here.span_id)
        ids = random.randbytes(8 * len(executed))  # node spans nothing refers to: any 8 random bytes
        notes, nodes, tenant, base = trace.notes or {}, self.nodes, self.tenant, trace.start_ns
        for k, (i, timing) in enumerate(executed):
            status = timing.status
            note = notes.get(i)
            if timing.error is not None or status == "running" or (note is not None and len(note) > 1):
                out.append(encode_span(self._node_record(i, timing)))
                continue
            node = nodes[i]
            start = base + int(timing.start_ms * 1e6)
            span_id = ids[8 * k:8 * k + 8] if note is None else note["_span_id"].to_bytes(8, "big")
            add_templated(out, (node.id, node.type_id, tenant, status, timing.cache), _node_tail, common,
                          span_id, start, start + int(timing.duration_ms * 1e6))
        return b"".join(out), len(executed) + 1


def _run_tail(key: tuple[str, str, str, str, str | None, bool]) -> bytes:
    _, flow_id, tenant, status, failed_node, remote = key
    return span_tail("akis.run", {"akis.flow.id": flow_id, "akis.tenant.id": tenant, "akis.status": status,
                                  "akis.node.failed": failed_node}, remote_parent=remote)


def _node_tail(key: tuple[str, str, str, str, str]) -> bytes:
    node_id, type_id, tenant, status, cache = key
    return span_tail(f"akis.node {type_id}", _node_attributes(node_id, type_id, tenant, status, cache))


def _node_attributes(node_id: str, type_id: str, tenant: str, status: str, cache: str) -> dict[str, Any]:
    return {"akis.node.id": node_id, "akis.node.type": type_id, "akis.tenant.id": tenant, "akis.status": status,
            "akis.cache.outcome": cache}


def _state(span_context: Any) -> str:
    state = span_context.trace_state
    return ",".join(f"{k}={v}" for k, v in state.items()) if state else ""


def end_background(job: BackgroundJob, start_ns: int, exc: Exception | None) -> None:
    """A background job's span, child of its run's (``job.traceparent``, sampled: the caller
    checked), exported when the job ends."""
    tracing.export(BackgroundEnd(job, start_ns, exc))


class BackgroundEnd:
    """A finished background job, queued for export (its span made on the exporter's thread)."""

    __slots__ = ("end_ns", "exc", "job", "start_ns")

    def __init__(self, job: BackgroundJob, start_ns: int, exc: Exception | None) -> None:
        self.job, self.start_ns, self.exc, self.end_ns = job, start_ns, exc, time.time_ns()

    def _ids(self) -> tuple[int, int]:
        _, trace_hex, parent_hex, _ = self.job.traceparent.split("-")
        return int(trace_hex, 16), int(parent_hex, 16)

    def records(self) -> list[SpanRecord]:
        job, exc = self.job, self.exc
        attributes = {"akis.node.id": job.node_id, "akis.node.type": job.node_type, "akis.tenant.id": job.tenant_id,
                      "akis.run.id": job.run_id, "akis.status": "succeeded" if exc is None else "failed"}
        error = None
        events: tuple[tuple[str, int, dict[str, Any]], ...] = ()
        if exc is not None:
            error = f"{type(exc).__name__}: {exc}"
            attributes["error.type"] = type(exc).__name__
            events = (("exception", self.end_ns, {"exception.type": type(exc).__qualname__,
                                                  "exception.message": str(exc), "exception.escaped": True}),)
        trace_id, parent_id = self._ids()
        return [SpanRecord(f"akis.background {job.node_type}", trace_id, tracing.new_id(), parent_id, True,
                           self.start_ns, self.end_ns, attributes, error, events)]

    def encoded(self) -> tuple[bytes, int]:
        if self.exc is not None:
            return encode_span(self.records()[0]), 1
        job = self.job
        out: list[bytes] = []
        trace_id, parent_id = self._ids()
        add_templated(out, ("akis.background", job.node_id, job.node_type, job.tenant_id), _background_tail,
                      common_ids(trace_id, parent_id), random.randbytes(8), self.start_ns, self.end_ns,
                      key_values({"akis.run.id": job.run_id}))
        return b"".join(out), 1


def _background_tail(key: tuple[str, str, str, str]) -> bytes:
    _, node_id, type_id, tenant = key
    return span_tail(f"akis.background {type_id}", {"akis.node.id": node_id, "akis.node.type": type_id,
                                                    "akis.tenant.id": tenant, "akis.status": "succeeded"},
                     remote_parent=True)
