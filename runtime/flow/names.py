"""How messages name a node: by the label a person gave it, the id only where it is needed.

``'Product search'`` when the label is unique, ``'Search' (node_3)`` when two nodes share the
label, ``'node_3'`` when the node has no label (or is not in the flow), so every message, toast
and chart points at the node a person sees on the canvas.
"""
from __future__ import annotations

from collections import Counter

from .model import FlowDocument


class NodeNames:
    """The display name of each node of one flow, computed once."""

    def __init__(self, flow: FlowDocument) -> None:
        labels = {n.id: (n.label or "").strip() for n in flow.nodes}
        counts = Counter(label for label in labels.values() if label)
        # node id -> (what to show, the id to add after it when the label is not unique)
        self._parts: dict[str, tuple[str, str | None]] = {}
        for node_id, label in labels.items():
            if not label or label == node_id:
                self._parts[node_id] = (node_id, None)
            else:
                self._parts[node_id] = (label, node_id if counts[label] > 1 else None)

    def __call__(self, node_id: str) -> str:
        """The quoted name of ``node_id`` (its quoted id when it has no label)."""
        shown, suffix = self._parts.get(node_id, (node_id, None))
        return f"{shown!r} ({suffix})" if suffix else repr(shown)

    def plain(self, node_id: str) -> str:
        """The name without quotes, for chart axes and titles."""
        shown, suffix = self._parts.get(node_id, (node_id, None))
        return f"{shown} ({suffix})" if suffix else shown


def node_name(flow: FlowDocument, node_id: str) -> str:
    """One node's quoted name (builds the names of the whole flow: use :class:`NodeNames` for many)."""
    return NodeNames(flow)(node_id)


def node_labels(flow: FlowDocument) -> dict[str, str]:
    """``{node_id: unquoted name}`` for every node (timelines, charts)."""
    names = NodeNames(flow)
    return {n.id: names.plain(n.id) for n in flow.nodes}
