"""Records runs from the engine's events (``akis run --record``, the editor's run pane).

It is an event listener: ``observe`` only collects (it must not block the engine); when a
run finishes its row is written in one statement from a background task. ``drain`` waits
for pending writes (the CLI calls it before exiting).
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runtime.engine.inspect import NodeRecord
from runtime.events import MESSAGE_CHUNK, NODE_FAILED, NODE_FINISHED, RUN_FINISHED, RUN_STARTED, Event

from .db import Database
from .repos.node_runs import record_run_with_nodes
from .repos.runs import record_run
from .types import utcnow

log = logging.getLogger(__name__)
TRACE_ID = re.compile(r"[0-9a-f]{32}")
NO_TRACE = "0" * 32  # OpenTelemetry's invalid trace id: an unsampled or absent trace


@dataclass(frozen=True, slots=True)
class RunLabels:
    """What a run belongs to, beyond its flow: an experiment's variant (A/B tests), an evaluation.
    Stored on the run row so results can be grouped by them."""

    experiment_id: str | None = None
    variant: str | None = None
    evaluation_id: str | None = None

    def span_attributes(self) -> dict[str, str] | None:
        """The run span's attributes for these labels (None when there are none)."""
        pairs = (("akis.experiment.id", self.experiment_id), ("akis.experiment.variant", self.variant),
                 ("akis.evaluation.id", self.evaluation_id))
        return {key: value for key, value in pairs if value} or None


NO_LABELS = RunLabels()


@dataclass
class _Pending:
    inputs: dict[str, Any] = field(default_factory=dict)
    flow_version: int | None = None
    started_at: datetime | None = None
    first_chunk_ms: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    trace_id: str | None = None
    labels: RunLabels = NO_LABELS
    nodes: list[NodeRecord] | None = None  # an inspected run's node records


class RunRecorder:
    def __init__(self, database: Database, inputs: dict[str, Any] | None = None) -> None:
        """``inputs``: recorded for runs nobody called :meth:`expect` for (``akis run --record``)."""
        self.database = database
        self.default_inputs = dict(inputs or {})
        self._runs: dict[str, _Pending] = {}
        self._writes: set[asyncio.Task[bool]] = set()
        self.recorded = 0
        self.secrets: tuple[str, ...] = ()  # masked in node records (the settings' secrets)

    def expect(self, run_id: str, inputs: dict[str, Any] | None = None, flow_version: int | None = None,
               labels: RunLabels = NO_LABELS) -> None:
        """Attach what events do not carry (the inputs, the stored version, the labels) to a run."""
        pending = self._runs.setdefault(run_id, _Pending())
        pending.inputs = dict(inputs if inputs is not None else self.default_inputs)
        pending.flow_version = flow_version
        pending.labels = labels

    def attach_nodes(self, run_id: str, records: list[NodeRecord]) -> None:
        """An inspected run's node records (given just before its ``run.finished``): written
        with its row, in the same unit of work."""
        pending = self._runs.setdefault(run_id, _Pending(inputs=dict(self.default_inputs)))
        pending.nodes = records

    def labels_of(self, run_id: str) -> RunLabels | None:
        """The experiment labels of a run under way, or None: the metrics sink copies them onto the
        run's node rows (``SqlMetricsSink.labels_of``)."""
        pending = self._runs.get(run_id)
        if pending is None or pending.labels.experiment_id is None:
            return None
        return pending.labels

    def observe(self, event: Event) -> None:
        pending = self._runs.get(event.run_id)
        if pending is None:
            pending = self._runs[event.run_id] = _Pending(inputs=dict(self.default_inputs))
        if event.event == RUN_STARTED:
            pending.started_at = utcnow() - timedelta(milliseconds=event.t_ms)
            pending.trace_id = trace_id_of(event) or pending.trace_id
        elif event.event == MESSAGE_CHUNK and pending.first_chunk_ms is None:
            pending.first_chunk_ms = event.t_ms
        elif event.event in (NODE_FINISHED, NODE_FAILED) and event.node_id and event.duration_ms is not None:
            pending.timings[event.node_id] = event.duration_ms
        elif event.event == RUN_FINISHED:
            self._runs.pop(event.run_id, None)
            pending.trace_id = trace_id_of(event) or pending.trace_id
            self._write(event, pending)

    __call__ = observe

    async def drain(self, timeout_s: float = 10.0) -> None:
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=timeout_s)

    def _write(self, event: Event, pending: _Pending) -> None:
        usage = event.usage or {}
        kwargs: dict[str, Any] = {
            "status": event.status or "succeeded", "flow_version": pending.flow_version,
            "session_id": event.session_id or "", "inputs": pending.inputs, "output": event.output,
            "error": event.error, "started_at": pending.started_at, "duration_ms": event.duration_ms,
            "first_chunk_ms": pending.first_chunk_ms, "timings": pending.timings,
            "tokens_in": int(usage.get("tokens_in", 0)), "tokens_out": int(usage.get("tokens_out", 0)),
            "trace_id": pending.trace_id, "experiment_id": pending.labels.experiment_id,
            "variant": pending.labels.variant, "evaluation_id": pending.labels.evaluation_id,
        }
        args = (event.tenant_id or "", event.run_id, event.flow_id or "")
        write: Callable[..., bool] = record_run
        if pending.nodes:
            write = record_run_with_nodes
            kwargs.update(nodes=pending.nodes, secrets=self.secrets)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.recorded += int(self.database.call(write, *args, **kwargs))
            return
        task = loop.create_task(self.database.run(write, *args, **kwargs))
        self._writes.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._writes.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("recording run failed: %s", task.exception())
        elif task.result():
            self.recorded += 1


def trace_id_of(event: Event) -> str | None:
    """The run's trace id from ``run.started``/``run.finished`` (``extra["trace_id"]``), or None
    when tracing is off. Anything but 32 lowercase hex digits is not a trace id a link can use."""
    value = event.extra.get("trace_id")
    if isinstance(value, str) and TRACE_ID.fullmatch(value) and value != NO_TRACE:
        return value
    return None
