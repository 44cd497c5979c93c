"""What the run pane reads from storage, each call in a worker thread (``database.run``)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS
from runtime.flow.model import FlowDocument
from runtime.flow.names import node_labels
from runtime.reads import key_inputs
from runtime.suggestions import NodeStats
from storage.errors import StorageError
from storage.models import Message, Run
from storage.repos import dashboard, flows, messages, metrics, runs

from ..charts.timeline import STEP_MARK, TimelineBar, observed_critical_path, outcome_of
from .live import exclusive_nodes, predecessors, queue_blockers

STATS_RANGE = timedelta(days=7)


async def node_stats(context: AkisContext, tenant_id: str, document: FlowDocument) -> dict[str, NodeStats]:
    """Per-node aggregates of this flow's recent runs, with how often each cacheable node's key
    inputs repeated (read from the stored run inputs)."""
    # The rows of the run that just ended. A failed write stays buffered in the sink for later:
    # the stats are then a second behind.
    with contextlib.suppress(RuntimeError, *DATABASE_ERRORS):
        await context.metrics.flush()
    flow_id = str(document.flow_id)
    found = await context.database.run(dashboard.flow_node_stats, tenant_id, flow_id, STATS_RANGE)
    stats: dict[str, NodeStats] = {}
    for node in document.nodes:
        aggregate = found.get(node.id)
        if aggregate is None:
            continue
        repeat = None
        node_type = context.registry.get(node.type, tenant_id)
        if node_type is not None and node_type.cacheable:
            names = key_inputs(document, node.id, context.registry, tenant_id)
            if names:
                measured = await context.database.run(dashboard.input_repeat_rate, tenant_id, flow_id, sorted(names),
                                                      STATS_RANGE)
                repeat = measured[1] if measured else None
        stats[node.id] = NodeStats(
            aggregate.node_id, aggregate.node_type, aggregate.count, aggregate.p50_ms, aggregate.p95_ms,
            aggregate.hits, aggregate.misses, aggregate.p50_hit_ms, aggregate.p50_miss_ms, repeat,
        )
    return stats


async def stored_version(context: AkisContext, tenant_id: str, document: FlowDocument) -> int | None:
    """The saved version the canvas shows, or None when it has unsaved changes (or was never saved)."""
    def find(session: Session) -> int | None:
        try:
            flow = flows.get_flow(session, tenant_id, str(document.flow_id))
        except StorageError:  # an id storage does not accept: the flow is not saved
            return None
        if flow is None or not flow.current_version:
            return None
        stored = flows.get_document(session, tenant_id, flow.id)
        return flow.current_version if stored is not None and stored.dump() == document.dump() else None

    try:
        return await context.database.run(find)
    except DATABASE_ERRORS:  # the run goes on; it is recorded without a version
        return None


async def recent_runs(context: AkisContext, tenant_id: str, flow_id: str, limit: int = 15) -> list[Run]:
    return await context.database.run(runs.list_runs, tenant_id, flow_id, limit)


async def chat_history(context: AkisContext, tenant_id: str, session_id: str, limit: int = 50) -> list[Message]:
    return await context.database.run(messages.history, tenant_id, session_id, limit)


@dataclass
class StoredTimeline:
    bars: list[TimelineBar]
    critical: list[str]


async def stored_timeline(context: AkisContext, tenant_id: str, run: Run,
                          document: FlowDocument | None) -> StoredTimeline:
    """A past run's timeline from its metric rows: each row is written when its node ends, so
    the node started ``duration`` before that, measured from the run's start."""
    rows = await context.database.run(metrics.run_metrics, tenant_id, run.id)
    labels = node_labels(document) if document is not None else {}
    bars = []
    for row in rows:
        end_ms = (row.created_at - run.started_at).total_seconds() * 1000
        node_type = context.registry.get(row.node_type, tenant_id)
        status = f"{row.status} (background)" if node_type is not None and node_type.background else row.status
        parent, _, step = row.node_id.partition("/")  # a node's step (an agent's turn): "<node>/<step>"
        label = f"{STEP_MARK}{step}" if step else labels.get(row.node_id, row.node_id)
        bars.append(TimelineBar(row.node_id, label, row.node_type,
                                max(0.0, end_ms - row.duration_ms), row.duration_ms, outcome_of(status, row.cache),
                                cache=row.cache, parent=parent if step else None))
    # rows carry their end as wall-clock time and their duration separately: allow a few ms
    critical = observed_critical_path(
        bars, predecessors(document), slack_ms=5.0,
        blockers=queue_blockers(document, exclusive_nodes(document, context.registry, tenant_id)),
    ) if document is not None else []
    return StoredTimeline(bars, critical)
