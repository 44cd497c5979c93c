"""Records runs from the engine's events (``akis run --record``, the editor's run pane).

It is an event listener: ``observe`` only collects (it must not block the engine); when a
run finishes its row is written in one statement from a background task. ``drain`` waits
for pending writes (the CLI calls it before exiting).
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runtime.events import MESSAGE_CHUNK, NODE_FAILED, NODE_FINISHED, RUN_FINISHED, RUN_STARTED, Event

from .db import Database
from .repos.runs import record_run
from .types import utcnow

log = logging.getLogger(__name__)
TRACE_ID = re.compile(r"[0-9a-f]{32}")
NO_TRACE = "0" * 32  # OpenTelemetry's invalid trace id: an unsampled or absent trace


@dataclass
class _Pending:
    inputs: dict[str, Any] = field(default_factory=dict)
    flow_version: int | None = None
    started_at: datetime | None = None
    first_chunk_ms: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    trace_id: str | None = None


class RunRecorder:
    def __init__(self, database: Database, inputs: dict[str, Any] | None = None) -> None:
        """``inputs``: recorded for runs nobody called :meth:`expect` for (``akis run --record``)."""
        self.database = database
        self.default_inputs = dict(inputs or {})
        self._runs: dict[str, _Pending] = {}
        self._writes: set[asyncio.Task[bool]] = set()
        self.recorded = 0

    def expect(self, run_id: str, inputs: dict[str, Any] | None = None, flow_version: int | None = None) -> None:
        """Attach what events do not carry (the inputs, the stored version) to a run."""
        pending = self._runs.setdefault(run_id, _Pending())
        pending.inputs = dict(inputs if inputs is not None else self.default_inputs)
        pending.flow_version = flow_version

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
            "trace_id": pending.trace_id,
        }
        args = (event.tenant_id or "", event.run_id, event.flow_id or "")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.recorded += int(self.database.call(record_run, *args, **kwargs))
            return
        task = loop.create_task(self.database.run(record_run, *args, **kwargs))
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
