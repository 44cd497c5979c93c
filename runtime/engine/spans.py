"""The run's and its nodes' spans (tracing on only: the run calls these after checking).

A node's span is made current in the node's own task while the node runs, so what the node
sends (``http_request``, a model call) carries its ``traceparent``. An inline node (one that
never waits, stepped in whichever context settled its input) gets a span that is not made
current: it sends nothing, and making it current there would leak into that context. A run
whose span is not sampled makes no node spans; what its nodes send carries the run's
(unsampled) context, so the next service follows the decision.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import tracing
from ..events import CacheOutcome

if TYPE_CHECKING:
    from .plan import PlannedNode
    from .run import Run


class NodeSpan:
    """A node's span and the token that undoes making it current."""

    __slots__ = ("span", "token")

    def __init__(self, span: Any, token: Any) -> None:
        self.span, self.token = span, token


def start_run(run: Run) -> None:
    """The run's span, child of the caller's (``trace_parent``) or of the current span, current
    for the run's task from here (node tasks inherit it) until :func:`end_run`."""
    run.trace = tracing.start("akis.run", tracing.extract(run.trace_parent), {
        "akis.run.id": run.run_id, "akis.flow.id": run.plan.flow_id, "akis.tenant.id": run.tenant_id,
        "akis.session.id": run.session_id,
    })
    run.trace_ctx = tracing.context_of(run.trace)
    run.trace_token = tracing.attach(run.trace_ctx)
    run.trace_nodes = run.trace.is_recording()


def end_run(run: Run, status: str, error: str | None, failed_node: str | None) -> None:
    """End the run's span and stop it being current (the run's task, or its caller's)."""
    tracing.end(run.trace, status, error, **{"akis.node.failed": failed_node})
    if run.trace_token is not None:
        token, run.trace_token = run.trace_token, None
        tracing.detach(token)


def start_node(run: Run, node: PlannedNode) -> NodeSpan:
    span = tracing.start(f"akis.node {node.type_id}", run.trace_ctx, {
        "akis.node.id": node.id, "akis.node.type": node.type_id, "akis.tenant.id": run.tenant_id,
    })
    return NodeSpan(span, None if node.inline else tracing.attach(tracing.context_of(span, run.trace_ctx)))


def end_node(node_span: NodeSpan, status: str, cache: CacheOutcome, error: str | None) -> None:
    if node_span.token is not None:
        tracing.detach(node_span.token)
    tracing.end(node_span.span, status, error if status == "failed" else None,
                **{"akis.cache.outcome": cache, "akis.node.error": error})
