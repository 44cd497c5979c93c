"""Auto-layout: left to right by dependency depth (the longest path from a start node).

Columns are depths; inside a column nodes are ordered by the mean row of their predecessors
(one barycentre pass), which keeps most edges from crossing, and each column is centred on the
same horizontal line so a fan-out and its join line up.
"""
from __future__ import annotations

from runtime.flow.graph import FlowGraph
from runtime.flow.model import FlowDocument

COLUMN_GAP = 300  # a node is 232 px wide on the canvas
ROW_GAP = 130


def layered_positions(document: FlowDocument) -> dict[str, tuple[int, int]]:
    """A position for every node; nodes in a cycle are placed after the rest."""
    graph = FlowGraph.build(document)
    count = len(graph.ids)
    depth = [0] * count
    placed = set(graph.order)
    for node in graph.order:
        for nxt in graph.succs[node]:
            depth[nxt] = max(depth[nxt], depth[node] + 1)
    tail = max(depth, default=0) + 1
    for node in range(count):
        if node not in placed:  # part of a cycle: validation reports it, the layout just shows it
            depth[node] = tail
    columns: dict[int, list[int]] = {}
    for node in [*graph.order, *(n for n in range(count) if n not in placed)]:
        columns.setdefault(depth[node], []).append(node)
    row: dict[int, float] = {}
    positions: dict[str, tuple[int, int]] = {}
    for column in sorted(columns):
        members = columns[column]
        members.sort(key=lambda n: _barycentre(n, graph, row))
        middle = (len(members) - 1) / 2
        for index, node in enumerate(members):
            row[node] = index - middle
            positions[graph.ids[node]] = (column * COLUMN_GAP, round((index - middle) * ROW_GAP))
    return positions


def _barycentre(node: int, graph: FlowGraph, row: dict[int, float]) -> tuple[float, int]:
    rows = [row[p] for p in graph.preds[node] if p in row]
    return (sum(rows) / len(rows) if rows else 0.0, node)
