"""Engine semantics on random DAGs: 50 graph seeds x 3 timing seeds, with failures and branches.

Each node's value is a hash of its predecessors' values, so any scheduling mistake (a node
running twice, too early, or a join firing twice) changes the output."""
from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

import pytest
from pydantic import Field

from runtime import Engine
from runtime.nodes.base import NodeConfig, NodeContext, NodeType
from runtime.nodes.registry import NodeRegistry, builtin_types


class Mix(NodeType):
    type_id = "mix"

    class Config(NodeConfig):
        preds: list[str] = Field(default_factory=list)
        fail: bool = False
        ms: float = 0

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        return set()

    async def run(self, config: Any, ctx: NodeContext) -> dict[str, Any]:
        await asyncio.sleep(config.ms / 1000)
        if config.fail:
            raise RuntimeError("planned failure")
        seen = ctx.values["nodes"]
        parts = [f"{p}={seen.get(p, {}).get('value', '-')}" for p in sorted(config.preds)]
        return {"value": hashlib.sha256((ctx.node_id + "|" + ",".join(parts)).encode()).hexdigest()[:12]}


REGISTRY = NodeRegistry(builtin_types())
REGISTRY.add(Mix)


def random_flow(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    count = rng.randint(6, 18)
    ids = [f"n{i}" for i in range(count)]
    nodes: list[dict[str, Any]] = [{"id": "in", "type": "user_input"}]
    edges: list[dict[str, Any]] = []
    for position, node_id in enumerate(ids):
        earlier = ids[:position]
        preds = rng.sample(earlier, k=min(len(earlier), rng.randint(1, 3))) if earlier else []
        if rng.random() < 0.3 and position > 1:
            nodes.append({"id": node_id, "type": "condition", "config": {
                "cases": [{"when": "{{ (user_message | length) % 2 == 0 }}", "branch": "even"}], "default": "odd"}})
        else:
            nodes.append({"id": node_id, "type": "mix", "on_error": "continue",
                          "config": {"preds": preds, "fail": rng.random() < 0.1, "ms": "{{ delays." + node_id + " }}"}})
        for pred in preds or ["in"]:
            edge: dict[str, Any] = {"source": pred, "target": node_id}
            source = next(n for n in nodes if n["id"] == pred)
            if source["type"] == "condition":
                edge["branch"] = rng.choice(["even", "odd"])
            edges.append(edge)
    leaves = [n for n in ids if not any(e["source"] == n for e in edges)]
    nodes.append({"id": "out", "type": "output", "config": {"fields": {"all": "{{ nodes }}"}}})
    edges += [{"source": leaf, "target": "out"} for leaf in leaves]
    return {"akis": 1, "flow_id": f"random-{seed}", "nodes": nodes, "edges": edges}


async def run_once(engine: Engine, data: dict[str, Any], timing_seed: int, message: str) -> tuple[Any, list[Any]]:
    rng = random.Random(timing_seed)
    delays = {n["id"]: rng.choice([0, 0, 1, 2, 5]) for n in data["nodes"]}
    events: list[Any] = []
    handle = engine.start(data, {"user_message": message, "delays": delays}, on_event=events.append)
    return await handle.result(), events


@pytest.mark.parametrize("seed", range(50))
async def test_random_dag(seed: int):
    engine = Engine(registry=REGISTRY)
    data = random_flow(seed)
    preds: dict[str, set[str]] = {}
    for edge in data["edges"]:
        preds.setdefault(edge["target"], set()).add(edge["source"])
    message = "ab" if seed % 2 else "abc"
    outputs = []
    for timing_seed in range(3):
        result, events = await run_once(engine, data, seed * 100 + timing_seed, message)
        assert result.status == "succeeded", result.error
        started = [e.node_id for e in events if e.event == "node.started"]
        skipped = [e.node_id for e in events if e.event == "node.skipped"]
        assert len(started) == len(set(started)), "a node ran twice"
        assert not set(started) & set(skipped)
        assert sorted(started + skipped) == sorted(n["id"] for n in data["nodes"]), "a node neither ran nor skipped"
        settled_at = {e.node_id: e.index for e in events if e.event in {"node.finished", "node.failed", "node.skipped"}}
        started_at = {e.node_id: e.index for e in events if e.event in {"node.started", "node.skipped"}}
        for node_id, sources in preds.items():
            for source in sources:
                assert settled_at[source] < started_at[node_id], f"{node_id} began before {source} settled"
        outputs.append(result.output)
    assert outputs[0] == outputs[1] == outputs[2]
