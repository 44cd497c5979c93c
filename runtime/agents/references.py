"""Which other flows a flow calls (sub-flows, iterations, an agent's flow tools), and the
cross-flow cycle check a save runs: A calling B calling A would never end (each run would
start the next), so such a flow is refused when it is stored, naming the chain.
"""
from __future__ import annotations

from typing import Any

from ..errors import AkisError, Problem
from ..flow.model import FlowDocument
from ..ports import FlowSource

MAX_FLOWS = 200  # a check reads at most this many flows


def flow_references(document: FlowDocument) -> list[tuple[str, str, int | None]]:
    """(node id, flow id, version or None) for every call of another flow."""
    found: list[tuple[str, str, int | None]] = []
    for node in document.nodes:
        config: dict[str, Any] = node.config
        if node.type in ("subflow", "iterate") and isinstance(config.get("flow_id"), str) and config["flow_id"]:
            found.append((node.id, config["flow_id"], _version(config.get("version"))))
        elif node.type == "agent" and isinstance(config.get("tools"), list):
            for tool in config["tools"]:
                if isinstance(tool, dict) and tool.get("kind") == "flow" and isinstance(tool.get("flow_id"), str):
                    found.append((node.id, tool["flow_id"], _version(tool.get("version"))))
    return found


def _version(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def cycle_problems(document: FlowDocument, flows: FlowSource, tenant_id: str) -> list[Problem]:
    """A problem per node whose calls lead back to ``document``'s own flow (through the
    tenant's stored flows as they are now). Flows that cannot be read are passed over: running
    one says why."""
    own = str(document.flow_id)
    problems: list[Problem] = []
    read = 0
    for node_id, target, version in flow_references(document):
        stack: list[tuple[str, int | None, list[str]]] = [(target, version, [own, target])]
        seen: set[tuple[str, int | None]] = set()
        while stack:
            flow_id, wanted, path = stack.pop()
            if flow_id == own:
                problems.append(Problem("subflow_cycle", f"node {node_id!r}: flows call each other in a cycle: "
                                        f"{' -> '.join(path)}", node_id=node_id, field="config"))
                break
            if (flow_id, wanted) in seen or read >= MAX_FLOWS:
                continue
            seen.add((flow_id, wanted))
            read += 1
            try:
                called = await flows.load(tenant_id, flow_id, wanted)
            except AkisError:
                continue
            stack.extend((t, v, [*path, t]) for _, t, v in flow_references(called))
    return problems
