"""The benchmark graphs as plain index lists, and the same graph as an Akis flow document.

Every graph has one entry node (index 0) and one exit node (the last index), so each
contender runs exactly the same nodes: Akis runs the entry as ``user_input`` (no required
fields) and the exit as ``output`` (no fields); both do nothing, like the no-op nodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.nodes.base import NodeContext, NodeType

NOOP_TYPE = "bench_noop"


class NoopNode(NodeType):
    """Does nothing and declares no outputs, so concurrent no-ops never race on a key."""

    type_id = NOOP_TYPE
    title = "No-op (benchmark)"

    async def run(self, config: Any, ctx: NodeContext) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Graph:
    name: str
    preds: list[list[int]]  # preds[i]: the nodes node i waits for

    @property
    def size(self) -> int:
        return len(self.preds)

    @property
    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.preds]
        for node, parents in enumerate(self.preds):
            for parent in parents:
                out[parent].append(node)
        return out

    def node_name(self, i: int) -> str:
        return f"n{i}"


def chain(n: int) -> Graph:
    """entry -> n no-ops in a line -> exit."""
    return Graph(f"chain {n}", [[]] + [[i] for i in range(n + 1)])


def fan_out(n: int) -> Graph:
    """entry -> n no-ops side by side -> exit (the 1 -> n -> 1 shape)."""
    return Graph(f"fan-out 1-{n}-1", [[]] + [[0] for _ in range(n)] + [list(range(1, n + 1))])


def lattice(width: int, depth: int) -> Graph:
    """entry -> ``depth`` layers of ``width`` no-ops, each node waiting for the whole previous
    layer -> exit."""
    preds: list[list[int]] = [[]]
    previous = [0]
    for _ in range(depth):
        layer = list(range(len(preds), len(preds) + width))
        preds.extend(list(previous) for _ in layer)
        previous = layer
    preds.append(list(previous))
    return Graph(f"lattice {width}x{depth}", preds)


def as_flow(graph: Graph) -> dict[str, Any]:
    """The graph as an Akis flow document (parallel execution, no groups)."""
    last = graph.size - 1
    nodes = []
    for i in range(graph.size):
        if i == 0:
            nodes.append({"id": graph.node_name(i), "type": "user_input", "config": {"fields": []}})
        elif i == last:
            nodes.append({"id": graph.node_name(i), "type": "output", "config": {"fields": {}}})
        else:
            nodes.append({"id": graph.node_name(i), "type": NOOP_TYPE})
    edges = [
        {"source": graph.node_name(p), "target": graph.node_name(i)}
        for i, parents in enumerate(graph.preds)
        for p in parents
    ]
    return {"akis": 1, "flow_id": f"bench-{graph.name.replace(' ', '-')}", "name": graph.name,
            "nodes": nodes, "edges": edges}
