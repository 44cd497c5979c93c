"""A node's :class:`~runtime.nodes.steps.Step`: a ``node.step`` event and a metrics row."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import NODE_STEP, Event
from ..nodes.steps import Step
from ..ports import MetricRow
from .plan import PlannedNode

if TYPE_CHECKING:
    from .run import Run

MAX_ID = 64  # the metrics table's node_id column


def record_step(run: Run, node: PlannedNode, step: Step) -> None:
    """Tell listeners, and record the step's time and tokens under ``<node>/<step>``."""
    start = (step.started - run.t0) * 1000.0
    end = (step.ended - run.t0) * 1000.0
    duration = max(end - start, 0.0)
    usage = {"tokens_in": step.tokens_in, "tokens_out": step.tokens_out} if step.tokens_in or step.tokens_out \
        else None
    extra = {"step": step.id, "kind": step.kind, "start_ms": round(start, 3), "label": step.label or step.id,
             **step.detail}
    run.emit(Event(NODE_STEP, run.run_id, end, node_id=node.id, node_type=node.type_id, duration_ms=duration,
                   status=step.status, error=step.error, usage=usage, extra=extra))
    if step.record and run.metrics is not None and not run.warmup:
        run.metrics.record(MetricRow(run.tenant_id, run.plan.flow_id, run.run_id, f"{node.id}/{step.id}"[:MAX_ID],
                                     f"{node.type_id}.{step.kind}", duration, "off", step.status,
                                     step.tokens_in, step.tokens_out))
