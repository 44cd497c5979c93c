"""From the flow document (plus its problems) to the canvas's props: nodes, edges, group frames.

The canvas draws what it is given and decides nothing, so everything a person should see on a
node is decided here: its label, icon and category, the badges that matter (cached, parallel
group, join, background), branch handles of a condition, and the problems found on it.
"""
from __future__ import annotations

from typing import Any

from runtime.flow.graph import FlowGraph
from runtime.flow.model import FlowDocument, NodeSpec
from runtime.nodes.base import NodeType
from runtime.nodes.registry import NodeRegistry

from .draft import edge_ref, type_title
from .problems import ProblemIndex

CanvasProps = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def canvas_props(
    document: FlowDocument, registry: NodeRegistry | None, tenant_id: str | None, problems: ProblemIndex,
) -> CanvasProps:
    """``(nodes, edges, groups)`` ready for ``FlowCanvas.set_graph``."""
    graph = FlowGraph.build(document)
    joins = discovered_joins(document, graph)
    member_of: dict[str, str] = {}
    joined_by: dict[str, list[str]] = {}
    for group in document.parallel_groups:
        label = group.label or group.id
        for member in group.nodes:
            member_of.setdefault(member, label)
        join = joins.get(group.id)
        if join:
            joined_by.setdefault(join, []).append(label)
    nodes = [
        _node(node, registry.get(node.type, tenant_id) if registry else None, document, member_of, joined_by, problems)
        for node in document.nodes
    ]
    edges = [
        {"id": edge_ref(edge), "source": edge.source, "target": edge.target, "sourceHandle": edge.branch,
         "problems": [p.message for p in problems.by_edge.get((edge.source, edge.target), [])]}
        for edge in document.edges
    ]
    groups = [
        {"id": group.id, "label": group.label or group.id, "nodes": list(group.nodes), "join_at": joins.get(group.id),
         "problems": [p.message for p in problems.by_group.get(group.id, [])]}
        for group in document.parallel_groups
    ]
    return nodes, edges, groups


def discovered_joins(document: FlowDocument, graph: FlowGraph | None = None) -> dict[str, str | None]:
    """Each group's join: the chosen ``join_at``, else the one the engine would discover."""
    graph = graph or FlowGraph.build(document)
    joins: dict[str, str | None] = {}
    for group in document.parallel_groups:
        if group.join_at:
            joins[group.id] = group.join_at
            continue
        members = [graph.index[m] for m in group.nodes if m in graph.index]
        found = graph.discover_join(members) if graph.cycle is None and members else None
        joins[group.id] = graph.ids[found] if found is not None else None
    return joins


def node_badges(node: NodeSpec, node_type: NodeType | None, document: FlowDocument) -> list[str]:
    badges: list[str] = []
    if node_type is not None and node_type.cacheable:
        strategy = node.cache or document.cache_strategy.get(node.type)
        if strategy is not None and strategy.enabled:
            badges.append(f"cached:{_ttl(strategy.ttl)}")
    if node_type is not None and node_type.background:
        badges.append("background")
    if node_type is not None and node_type.streams:
        badges.append("stream")
    return badges


def _node(
    node: NodeSpec, node_type: NodeType | None, document: FlowDocument, member_of: dict[str, str],
    joined_by: dict[str, list[str]], problems: ProblemIndex,
) -> dict[str, Any]:
    badges = node_badges(node, node_type, document)
    if node.id in member_of:
        badges.append(f"group:{member_of[node.id]}")
    for label in joined_by.get(node.id, []):
        badges.append(f"join:{label}")
    ui = node.ui or {}
    warnings = problems.node_warnings(node.id)
    if warnings:  # an amber badge; the messages are in the problem list and the inspector
        badges.append(f"warning:{len(warnings)} warning{'s' * (len(warnings) != 1)}")
    data: dict[str, Any] = {"badges": badges, "problems": problems.node_messages(node.id)}
    if node_type is None:
        data.update(category="other", icon="help_outline", has_input=True, has_output=True)
    else:
        data.update(
            category=node_type.category, icon=node_type.icon,
            has_input=node_type.category != "input",
            has_output=not (node_type.background or node_type.type_id == "output"),
        )
        branches = getattr(node_type, "branches", None)
        if callable(branches):
            data["branches"] = list(branches(node.config))
    title = type_title(node_type) if node_type is not None else node.type
    return {
        "id": node.id,
        "type": node.type,
        "label": node.label or title,
        "position": {"x": float(ui.get("x", 0)), "y": float(ui.get("y", 0))},
        "data": data,
    }


def _ttl(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
