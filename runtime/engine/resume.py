"""Starting a run that goes on from checkpoints (durable runs: a worker took it over after the
worker holding it died). Nodes whose output is already known are settled with it instead of
executed, so a side effect that finished is not made again; the rest runs as usual.

Kept apart from ``run.py`` and ``engine.py`` (the hot path): a plain run never pays for it."""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..flow.model import FlowDocument
from .engine import Engine, RunHandle
from .run import Listener, Run

Known = Mapping[str, tuple[dict[str, Any], str | None]]  # node id -> (output, streamed text or None)


class ResumedRun(Run):
    """A run some of whose nodes already finished in an earlier attempt."""

    __slots__ = ("known",)
    known: dict[str, tuple[dict[str, Any], str | None]]

    def _make_ready(self, i: int) -> None:
        node = self.plan.nodes[i]
        known = None if node.background else self.known.get(node.id)
        if known is None:
            Run._make_ready(self, i)
            return
        output, text = known
        self.results[node.id] = output
        if node.merge:
            self.values.update(output)
        if text is not None:
            self.texts[node.id] = [text]
        self.clock.started(i, self.now_ms(), "succeeded", "hit")
        self._settle(i, "succeeded", output)


def start_run(engine: Engine, flow: FlowDocument, inputs: dict[str, Any], known: Known, *, tenant_id: str,
              session_id: str, run_id: str, on_event: Listener | None,
              trace_parent: Mapping[str, str] | None = None,
              trace_attributes: Mapping[str, str] | None = None) -> tuple[Run, RunHandle]:
    """Start ``flow`` with ``known`` node outputs; the run object too (its ``results`` are
    what the caller checkpoints as each node finishes)."""
    base = engine._prepare(flow, inputs, tenant_id=tenant_id, session_id=session_id, run_id=run_id,
                           on_event=on_event, trace_parent=trace_parent, trace_attributes=trace_attributes)
    run: Run = base
    if known:
        resumed = ResumedRun(base.plan, base.values, run_id=base.run_id, tenant_id=base.tenant_id,
                             session_id=base.session_id, services=base.services, cache=base.cache,
                             metrics=base.metrics, listener=base.listener, on_succeeded=base.on_succeeded,
                             trace_parent=base.trace_parent, trace_attributes=base.trace_attributes)
        resumed.known = dict(known)
        run = resumed
    task = asyncio.get_running_loop().create_task(run.execute(), name=f"akis-run-{run_id}")
    return run, RunHandle(run, task)
