"""Small flow builders shared by the core tests."""
from __future__ import annotations

from typing import Any


def node(node_id: str, type_: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "config": config}


def flow(
    nodes: list[dict[str, Any]], edges: list[tuple[str, str]] | list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    edge_list = [e if isinstance(e, dict) else {"source": e[0], "target": e[1]} for e in edges]
    return {"akis": 1, "flow_id": "test", "nodes": nodes, "edges": edge_list, **extra}


def diamond(delay_ms: float = 20, **extra: Any) -> dict[str, Any]:
    """in -> a, b, c (delays, distinct outputs) -> join -> out."""
    return flow(
        [
            node("in", "user_input"),
            node("a", "delay", ms=delay_ms, output={"a": 1}),
            node("b", "delay", ms=delay_ms, output={"b": 2}),
            node("c", "delay", ms=delay_ms, output={"c": 3}),
            node("join", "template", template="{{ a }}{{ b }}{{ c }}", output_key="joined"),
            node("out", "output", fields={"joined": "{{ joined }}"}),
        ],
        [("in", "a"), ("in", "b"), ("in", "c"), ("a", "join"), ("b", "join"), ("c", "join"), ("join", "out")],
        **extra,
    )
