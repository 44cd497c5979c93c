"""The canvas's data shapes and their normalisation.

Vue Flow merges a node update into the node it already has, so a key missing from an update
keeps its old value in the browser. Every node, edge and group is therefore normalised to carry
every key (with its default) before it is sent. These functions are pure and easy to test.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

Status = Literal["waiting", "running", "done", "cached", "failed", "continued", "skipped"]
# "continued": the node failed and its on_error is "continue" (shown "failed, continued")
STATUSES: frozenset[str] = frozenset({"waiting", "running", "done", "cached", "failed", "continued", "skipped"})

# One colour per node category, shared by the canvas, the palette and the minimap.
CATEGORY_COLORS: dict[str, str] = {
    "input": "#16a34a",
    "ai": "#7c3aed",
    "data": "#2563eb",
    "logic": "#d97706",
    "integration": "#0d9488",
    "output": "#db2777",
    "other": "#64748b",
}
CATEGORY_ICONS: dict[str, str] = {
    "input": "chat",
    "ai": "auto_awesome",
    "data": "storage",
    "logic": "account_tree",
    "integration": "hub",
    "output": "output",
    "other": "widgets",
}


class NodeData(TypedDict, total=False):
    category: str
    icon: str
    color: str
    badges: list[str]
    status: Status | None
    duration_ms: float | None
    error: str | None
    problems: list[str]
    branches: list[str]
    has_input: bool
    has_output: bool


class CanvasNode(TypedDict):
    id: str
    type: str
    label: str
    position: dict[str, float]
    data: NodeData


class CanvasEdge(TypedDict):
    id: str
    source: str
    target: str
    sourceHandle: str | None
    problems: list[str]


class CanvasGroup(TypedDict):
    id: str
    label: str
    nodes: list[str]
    join_at: str | None
    problems: list[str]


class CanvasDataError(ValueError):
    """A node, edge or group handed to the canvas is malformed; the message names it."""


def edge_id(source: str, target: str, source_handle: str | None = None) -> str:
    """The id the canvas gives an edge drawn by the user (the JS side builds the same)."""
    return f"{source}->{target}" + (f"#{source_handle}" if source_handle else "")


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise CanvasDataError(f"{what} must be a list of strings, got {value!r}")
    return [str(v) for v in value]


def _check_status(status: Any, where: str) -> None:
    if status is not None and status not in STATUSES:
        raise CanvasDataError(f"{where}: status {status!r} is not one of {sorted(STATUSES)} or None")


def normalize_node(node: Mapping[str, Any]) -> CanvasNode:
    """Return a complete copy of ``node``: every key present, defaults filled in."""
    node_id = node.get("id")
    if not node_id or not isinstance(node_id, str):
        raise CanvasDataError(f"canvas node without a string id: {node!r}")
    data_in = dict(node.get("data") or {})
    unknown = set(data_in) - set(NodeData.__annotations__)
    if unknown:
        raise CanvasDataError(f"node {node_id}: unknown data keys {sorted(unknown)}")
    category = str(data_in.get("category") or "other")
    _check_status(data_in.get("status"), f"node {node_id}")
    position = node.get("position") or {}
    try:
        x, y = float(position.get("x", 0)), float(position.get("y", 0))
    except (TypeError, ValueError, AttributeError):
        raise CanvasDataError(f"node {node_id}: position must be {{x, y}} numbers, got {position!r}") from None
    data: NodeData = {
        "category": category,
        "icon": str(data_in.get("icon") or CATEGORY_ICONS.get(category, CATEGORY_ICONS["other"])),
        "color": str(data_in.get("color") or CATEGORY_COLORS.get(category, CATEGORY_COLORS["other"])),
        "badges": _str_list(data_in.get("badges"), f"node {node_id}: badges"),
        "status": data_in.get("status"),
        "duration_ms": data_in.get("duration_ms"),
        "error": data_in.get("error"),
        "problems": _str_list(data_in.get("problems"), f"node {node_id}: problems"),
        "branches": _str_list(data_in.get("branches"), f"node {node_id}: branches"),
        "has_input": bool(data_in.get("has_input", True)),
        "has_output": bool(data_in.get("has_output", True)),
    }
    return {
        "id": node_id,
        "type": str(node.get("type") or "unknown"),
        "label": str(node.get("label") or node_id),
        "position": {"x": x, "y": y},
        "data": data,
    }


def normalize_edge(edge: Mapping[str, Any]) -> CanvasEdge:
    source, target = edge.get("source"), edge.get("target")
    if not source or not target:
        raise CanvasDataError(f"canvas edge needs a source and a target: {edge!r}")
    handle = edge.get("sourceHandle", edge.get("source_handle"))
    handle = str(handle) if handle else None
    return {
        "id": str(edge.get("id") or edge_id(str(source), str(target), handle)),
        "source": str(source),
        "target": str(target),
        "sourceHandle": handle,
        "problems": _str_list(edge.get("problems"), f"edge {source}->{target}: problems"),
    }


def normalize_group(group: Mapping[str, Any]) -> CanvasGroup:
    group_id = group.get("id")
    if not group_id:
        raise CanvasDataError(f"parallel group without an id: {group!r}")
    members = _str_list(group.get("nodes"), f"group {group_id}: nodes")
    return {
        "id": str(group_id),
        "label": str(group.get("label") or group_id),
        "nodes": members,
        "join_at": str(group["join_at"]) if group.get("join_at") else None,
        "problems": _str_list(group.get("problems"), f"group {group_id}: problems"),
    }


NOTE_COLORS = ("yellow", "blue", "green", "pink", "grey")


def normalize_note(note: Mapping[str, Any]) -> dict[str, Any]:
    """A sticky note: ``{id, text, html, x, y, width, height, color}``; ``html`` is the Markdown
    already rendered (and escaped) by the editor, so the canvas needs no Markdown library."""
    note_id = note.get("id")
    if not note_id:
        raise CanvasDataError(f"sticky note without an id: {note!r}")
    try:
        box = {k: float(note.get(k, default)) for k, default in
               (("x", 0), ("y", 0), ("width", 260), ("height", 160))}
    except (TypeError, ValueError):
        raise CanvasDataError(f"sticky note {note_id}: x, y, width and height must be numbers") from None
    color = str(note.get("color") or "yellow")
    if color not in NOTE_COLORS:
        raise CanvasDataError(f"sticky note {note_id}: colour {color!r} is not one of {', '.join(NOTE_COLORS)}")
    return {"id": str(note_id), "text": str(note.get("text") or ""), "html": str(note.get("html") or ""),
            **box, "color": color}


def check_unique(items: list[CanvasNode] | list[CanvasEdge] | list[CanvasGroup], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise CanvasDataError(f"duplicate {what} id {item['id']!r}")
        seen.add(item["id"])


def status_patch(patch: dict[str, Any], node_id: str) -> dict[str, Any]:
    """Check a live-status patch for :meth:`FlowCanvas.update_node` and return it unchanged."""
    allowed = set(NodeData.__annotations__) | {"label"}
    unknown = set(patch) - allowed
    if unknown:
        raise CanvasDataError(f"update_node({node_id!r}): unknown keys {sorted(unknown)}")
    _check_status(patch.get("status"), f"update_node({node_id!r})")
    return patch
