"""Flow builders for the agent, extract, subflow and iterate tests."""
from __future__ import annotations

import itertools
from typing import Any

FAST = {"delay_ms": 0, "tokens_per_second": 0}


def chain(flow_id: str, *middle: dict[str, Any], output: dict[str, Any] | None = None) -> dict[str, Any]:
    """user_input -> middle nodes in order -> output."""
    out: dict[str, Any] = {"id": "out", "type": "output"}
    if output is not None:
        out["config"] = {"fields": output}
    nodes = [{"id": "in", "type": "user_input"}, *middle, out]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"akis": 1, "flow_id": flow_id, "nodes": nodes, "edges": edges}


def agent(script: list[dict[str, Any]] | None = None, node_id: str = "ag", **config: Any) -> dict[str, Any]:
    options: dict[str, Any] = dict(FAST)
    if script is not None:
        options["script"] = script
    return {"id": node_id, "type": "agent", "config": {"provider_options": options, **config}}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}
