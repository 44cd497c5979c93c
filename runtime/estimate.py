"""How long a flow should take: a small simulation of the engine's scheduler over measured
node times (dependency order, AI nodes one at a time, sequential mode), with the critical path.

Used by the optimisation suggestions (a saving is "estimate before minus estimate after") and
by the run pane's compare view. Pure: no I/O and no node code runs.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .flow.graph import FlowGraph
from .flow.model import FlowDocument
from .nodes.base import NodeType
from .nodes.registry import NodeRegistry, default_registry


@dataclass(slots=True)
class Estimate:
    total_ms: float
    start: dict[str, float]
    end: dict[str, float]
    critical: list[str]  # ids, first to last


# --- the estimate ----------------------------------------------------------------------------
def estimate(document: FlowDocument, durations: Mapping[str, float], registry: NodeRegistry | None = None,
             tenant_id: str | None = None, *, execution: str | None = None) -> Estimate:
    """Simulate the engine on ``durations`` (ms per node, missing = 0). Background nodes run
    after the answer and are left out. The critical path is the chain of nodes whose
    finishing let the next one start, back from the last to finish."""
    graph = FlowGraph.build(document)
    if graph.cycle:
        return Estimate(0.0, {}, {}, [])
    types = node_types(document, registry, tenant_id)
    sequential = (execution or document.settings.execution) == "sequential"
    order = {node: position for position, node in enumerate(graph.order)}
    exclusive = [not t.parallel_safe if (t := types.get(i)) else False for i in graph.ids]
    background = [bool(t.background) if (t := types.get(i)) else False for i in graph.ids]
    remaining = [len(p) for p in graph.preds]
    ready: list[tuple[int, int]] = []
    running: list[tuple[float, int]] = []  # (end, node)
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    enabler: dict[int, int | None] = {}
    now, last_done = 0.0, None
    exclusive_running = False

    def release(node: int) -> None:
        for s in graph.succs[node]:
            remaining[s] -= 1
            if remaining[s] == 0 and not background[s]:
                heapq.heappush(ready, (order[s], s))

    for root in graph.order:
        if not graph.preds[root] and not background[root]:
            heapq.heappush(ready, (order[root], root))
    while ready or running:
        while ready:  # the engine's _pump: start in order until the head may not start
            node = ready[0][1]
            if exclusive_running or ((exclusive[node] or sequential) and running):
                break
            heapq.heappop(ready)
            exclusive_running = exclusive[node]
            start[graph.ids[node]] = now
            enabler[node] = last_done
            heapq.heappush(running, (now + max(0.0, float(durations.get(graph.ids[node], 0.0))), node))
        if not running:
            break
        now, done = heapq.heappop(running)
        end[graph.ids[done]] = now
        exclusive_running = exclusive_running and not exclusive[done]
        last_done = done
        release(done)
    critical: list[str] = []
    if end:
        step: int | None = graph.index[max(end, key=lambda n: (end[n], order[graph.index[n]]))]
        while step is not None:
            critical.append(graph.ids[step])
            step = enabler.get(step)
        critical.reverse()
    return Estimate(max(end.values(), default=0.0), start, end, critical)

def node_types(document: FlowDocument, registry: NodeRegistry | None, tenant_id: str | None) -> dict[str, NodeType]:
    """The node type of each node the registry knows (unknown types are left out)."""
    registry = registry or _default_registry(default_registry)
    found = {}
    for spec in document.nodes:
        node_type = registry.get(spec.type, tenant_id)
        if node_type is not None:
            found[spec.id] = node_type
    return found


_REGISTRY: list[NodeRegistry] = []


def _default_registry(factory: Callable[..., NodeRegistry]) -> NodeRegistry:
    if not _REGISTRY:
        _REGISTRY.append(factory(entry_point_group=None))
    return _REGISTRY[0]
