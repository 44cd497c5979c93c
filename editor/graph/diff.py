"""A readable difference between two versions of a flow: what a reviewer wants to know.

Not a JSON diff: nodes are matched by id, moves are summarised as "moved", and each changed
setting reads as ``config.query: '{{ user_message }}' → '{{ text }}'``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runtime.flow.model import FlowDocument

VALUE_LIMIT = 80


@dataclass
class Change:
    kind: str  # added | removed | changed
    what: str  # flow | node | edge | group | cache | note | settings
    subject: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.kind} {self.what} {self.subject}"
        return head + (": " + "; ".join(self.details) if self.details else "")


def diff_documents(old: FlowDocument, new: FlowDocument) -> list[Change]:
    """Every difference between ``old`` and ``new``, flow first, then nodes, edges, groups, cache."""
    a, b = old.dump(), new.dump()
    changes: list[Change] = []
    flow_details = _dict_changes({k: a.get(k) for k in ("name", "description")},
                                 {k: b.get(k) for k in ("name", "description")}, "")
    if flow_details:
        changes.append(Change("changed", "flow", "", flow_details))
    changes += _nodes(a.get("nodes", []), b.get("nodes", []))
    changes += _edges(a.get("edges", []), b.get("edges", []))
    changes += _keyed("group", {g["id"]: g for g in old.model_dump(mode="json")["parallel_groups"]},
                      {g["id"]: g for g in new.model_dump(mode="json")["parallel_groups"]})
    changes += _keyed("cache", a.get("cache_strategy", {}), b.get("cache_strategy", {}))
    changes += _keyed("note", {n["id"]: n for n in a.get("notes", [])}, {n["id"]: n for n in b.get("notes", [])})
    settings = _dict_changes(a.get("settings", {}), b.get("settings", {}), "")
    if settings:
        changes.append(Change("changed", "settings", "", settings))
    return changes


def _nodes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    before = {n["id"]: n for n in old}
    after = {n["id"]: n for n in new}
    out: list[Change] = []
    for node_id, node in after.items():
        if node_id not in before:
            out.append(Change("added", "node", _name(node), [f"type {node['type']}"]))
    for node_id, node in before.items():
        if node_id not in after:
            out.append(Change("removed", "node", _name(node)))
    for node_id in before.keys() & after.keys():
        old_node, new_node = dict(before[node_id]), dict(after[node_id])
        old_ui, new_ui = old_node.pop("ui", None) or {}, new_node.pop("ui", None) or {}
        details = _dict_changes(old_node, new_node, "")
        if (old_ui.get("x"), old_ui.get("y")) != (new_ui.get("x"), new_ui.get("y")):
            details.append("moved")
        if details:
            out.append(Change("changed", "node", _name(after[node_id]), details))
    order = {n["id"]: i for i, n in enumerate(new)} | {n["id"]: len(new) + i for i, n in enumerate(old)}
    return sorted(out, key=lambda c: order.get(c.subject.split(" ")[0], 0))


def _edges(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    def key(edge: dict[str, Any]) -> str:
        return f"{edge['source']} → {edge['target']}" + (f" [{edge['branch']}]" if edge.get("branch") else "")

    before, after = {key(e) for e in old}, {key(e) for e in new}
    return [Change("added", "edge", k) for k in sorted(after - before)] + [
        Change("removed", "edge", k) for k in sorted(before - after)]


def _keyed(what: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    for key, value in after.items():
        if key not in before:
            out.append(Change("added", what, key, [_show(value)]))
        elif before[key] != value:
            out.append(Change("changed", what, key, _dict_changes(before[key], value, "")))
    out += [Change("removed", what, key) for key in before if key not in after]
    return out


def _dict_changes(old: Any, new: Any, prefix: str) -> list[str]:
    """``path: old → new`` for every leaf that differs (dicts are walked, lists compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            lines += _dict_changes(old.get(key, _MISSING), new.get(key, _MISSING), f"{prefix}{key}.")
        return lines
    if old == new:
        return []
    path = prefix.rstrip(".")
    if old is _MISSING:
        return [f"{path} set to {_show(new)}"]
    if new is _MISSING:
        return [f"{path} removed (was {_show(old)})"]
    return [f"{path}: {_show(old)} → {_show(new)}"]


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


_MISSING: Any = _Missing()


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _name(node: dict[str, Any]) -> str:
    return f"{node['id']} ({node['label']})" if node.get("label") else node["id"]
