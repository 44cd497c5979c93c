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


NODE_SIZE = (232.0, 72.0)  # a node card on the canvas (height: one badge row)
CLEARANCE = 28  # free space kept around a placed node
Box = tuple[float, float, float, float]  # x, y, width, height in flow coordinates


def free_spot(anchor: tuple[float, float] | None, taken: list[Box], view: Box | None = None,
              size: tuple[float, float] = NODE_SIZE) -> tuple[float, float]:
    """Where something added by a click goes (its top-left corner): right of ``anchor`` (the
    selection's right-most node), else further down or up that column, else below; never on
    anything in ``taken``. ``view`` (the visible part of the canvas) keeps it on screen when there
    is room there."""
    w, h = size
    if anchor is None:
        anchor = (max((b[0] for b in taken), default=-COLUMN_GAP), min((b[1] for b in taken), default=0.0))
    ax, ay = anchor

    def free(x: float, y: float) -> bool:
        return all(x + w + CLEARANCE <= bx or bx + bw + CLEARANCE <= x or y + h + CLEARANCE <= by
                   or by + bh + CLEARANCE <= y for bx, by, bw, bh in taken)

    def seen(x: float, y: float) -> bool:
        return view is None or inside(view, (x, y, w, h))

    right, below = ax + COLUMN_GAP, ay + ROW_GAP
    candidates = [(right, ay)] + [(right, ay + step * ROW_GAP * sign) for step in range(1, 8) for sign in (1, -1)]
    candidates += [(ax + dx * COLUMN_GAP, below + step * ROW_GAP) for step in range(6) for dx in (0, 1, -1)]
    for x, y in candidates:
        if free(x, y) and seen(x, y):
            return x, y
    for x, y in candidates:  # nothing free on screen: free off screen (the view follows it)
        if free(x, y):
            return x, y
    return right, max((b[1] + b[3] for b in taken), default=ay) + CLEARANCE


def inside(view: Box, box: Box) -> bool:
    """Whether ``box`` lies wholly in ``view``."""
    return view[0] <= box[0] and box[0] + box[2] <= view[0] + view[2] and view[1] <= box[1] and (
        box[1] + box[3] <= view[1] + view[3])
