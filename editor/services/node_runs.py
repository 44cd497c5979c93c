"""Inspecting a run's nodes and running one node: the debugging loop (docs/run_pane.md).

Every run the runs service starts records, per node, what it read, its config as rendered,
its output, the cache's answer, attempts, tokens and error (``runtime/engine/inspect.py``).
Here they are read back (tenant-scoped: another tenant's run is not found), with the time the
cache entry has left, and one node runs on its own: with pinned inputs (a one-node document,
an input and an output around it), or "from here" (the whole flow, every node that does not
depend on this one settled with its output from a past run). Both go through the runs service,
so they are recorded, streamed and cancellable like any run. The HTTP API
(``editor/api/inspection.py``) and the run pane share this service.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.cache.tiered import TieredCache
from runtime.engine.inspect import NodeRecord, RecordSink
from runtime.flow.graph import FlowGraph
from runtime.flow.model import FlowDocument
from runtime.flow.names import node_name
from runtime.fold import Folder, masked_path
from runtime.logs import MASK
from storage.repos import node_runs as repo
from storage.repos.node_runs import node_values
from storage.tables.inspection import RunNode

from .errors import Invalid, NotFound
from .runs import Listener, Reuse, RunService, StartedRun

PINNED_INPUT, PINNED_OUTPUT = "akis_pinned_input", "akis_pinned_output"  # the helpers of a one-node run
HELPERS = (PINNED_INPUT, PINNED_OUTPUT)  # never shown: a one-node run shows its node only
NODE_MARK = "akis_node"  # in a one-node run's recorded inputs: which node it ran
REUSABLE = ("succeeded", "fallback")


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node of a run as shown: its record (values safe to show) and the TTL its cache entry has left."""

    row: dict[str, Any]
    ttl_left: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.row.items() if k not in ("tenant_id", "created_at")}
        return {**data, "ttl_left": self.ttl_left}


def row_dict(row: RunNode) -> dict[str, Any]:
    return row.model_dump()


def one_node_document(document: FlowDocument, node_id: str) -> FlowDocument:
    """``node_id`` alone, between an input that requires nothing and an output that returns nothing."""
    spec = document.node(node_id)
    if spec is None:
        raise NotFound(f"node {node_id!r}")
    nodes: list[dict[str, Any]] = [spec.model_dump(mode="json", exclude_none=True)]
    edges = []
    if spec.type != "user_input":
        nodes.insert(0, {"id": PINNED_INPUT, "type": "user_input", "label": "Pinned inputs", "config": {"fields": []}})
        edges.append({"source": PINNED_INPUT, "target": node_id})
    if spec.type != "output":
        nodes.append({"id": PINNED_OUTPUT, "type": "output", "label": "Result", "config": {"fields": {}}})
        edges.append({"source": node_id, "target": PINNED_OUTPUT})
    return FlowDocument.model_validate({
        "akis": document.akis, "flow_id": document.flow_id, "name": document.name, "nodes": nodes, "edges": edges,
        "cache_strategy": {k: v.model_dump(mode="json") for k, v in document.cache_strategy.items()},
        "settings": document.settings.model_dump(mode="json"),
    })


def pinned_inputs(value: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(values, node outputs)`` from pinned inputs: a JSON object (or its text) whose optional
    ``nodes`` maps node ids to their outputs. :class:`Invalid` naming what is wrong."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise Invalid(f"pinned inputs are not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, Mapping):
        raise Invalid('pinned inputs must be a JSON object, like {"user_message": "hi"}')
    values = dict(value)
    nodes = values.pop("nodes", None) or {}
    if not isinstance(nodes, Mapping) or not all(isinstance(v, Mapping) for v in nodes.values()):
        raise Invalid('pinned "nodes" must map node ids to their outputs, like {"node_3": {"products": []}}')
    for key in ("tenant_id", "run_id"):
        values.pop(key, None)  # the run's own: never taken from pinned values
    return values, {str(k): dict(v) for k, v in nodes.items()}


def refuse_masked_pins(document: FlowDocument, node_id: str, values: Mapping[str, Any],
                       nodes: Mapping[str, Any]) -> None:
    """:class:`Invalid` when pinned inputs hold the placeholder a past run keeps for a secret
    (its inputs prefill "Run this node"): the node would read the placeholder, not the secret."""
    path = masked_path(dict(values)) or masked_path(dict(nodes), "nodes")
    if path is not None:
        raise Invalid(f"the pinned inputs of node {node_name(document, node_id)} hold a masked secret in field "
                      f"{path} ({MASK!r}, as a past run keeps it): put the real value there")


def refuse_masked_output(document: FlowDocument, node_id: str, row: RunNode) -> None:
    """:class:`Invalid` when ``row``'s output (or streamed text) had a secret masked when kept:
    reused, it would hand the placeholder to the nodes after it instead of the secret."""
    path = masked_path(row.output or {}) or masked_path(row.text, "text")
    if path is not None:
        raise Invalid(f"the output of node {node_name(document, row.node_id)} in that run had a secret masked in "
                      f"field {path} (kept as {MASK!r}): run the whole flow instead, or run node "
                      f"{node_name(document, node_id)} alone with its inputs pinned by hand")


def downstream(document: FlowDocument, node_id: str) -> set[str]:
    """``node_id`` and every node that depends on it."""
    graph = FlowGraph.build(document)
    start = graph.index.get(node_id)
    if start is None:
        raise NotFound(f"node {node_id!r}")
    seen, stack = {start}, [start]
    while stack:
        for s in graph.succs[stack.pop()]:
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return {graph.ids[i] for i in seen}


class NodeRunService:
    def __init__(self, runs: RunService, cache: TieredCache | None) -> None:
        self.runs, self.cache = runs, cache

    # -- reading -----------------------------------------------------------------------------
    async def nodes(self, tenant: str, run_id: str) -> list[NodeView]:
        """A recorded run's nodes in start order; :class:`NotFound` for another tenant's run."""
        await self.runs.stored(tenant, run_id)
        rows = await self.runs.database.run(repo.run_nodes, tenant, run_id)
        return [NodeView(row_dict(row)) for row in rows if row.node_id not in HELPERS]

    async def node(self, tenant: str, run_id: str, node_id: str) -> NodeView:
        """One node of a recorded run, with the time its cache entry has left."""
        await self.runs.stored(tenant, run_id)
        row = await self.runs.database.run(repo.run_node, tenant, run_id, node_id)
        if row is None:
            raise NotFound(f"node {node_id!r} of run {run_id!r}")
        return NodeView(row_dict(row), await self.ttl_left(row.cache_key))

    async def ttl_left(self, key: str | None) -> int | None:
        if not key or self.cache is None:
            return None
        return await self.cache.entry_ttl(key)

    def view(self, tenant: str, run_id: str, records: list[NodeRecord]) -> list[NodeView]:
        """Records of a run just ended, as they are stored (masked, folded), before the write lands."""
        folder = Folder(self.runs.recorder.secrets)
        return [NodeView(node_values(tenant, run_id, i, r, folder)) for i, r in enumerate(records)
                if r.node_id not in HELPERS]

    # -- running -----------------------------------------------------------------------------
    async def run_node(self, tenant: str, document: FlowDocument, node_id: str, pinned: Any, *,
                       session_id: str | None = None, version: int | None = None, listener: Listener | None = None,
                       on_records: RecordSink | None = None) -> StartedRun:
        """Run ``node_id`` of ``document`` alone with ``pinned`` inputs (see :func:`pinned_inputs`)."""
        values, nodes = pinned_inputs(pinned)
        spec = document.node(node_id)
        if spec is None:
            raise NotFound(f"node {node_id!r}")
        refuse_masked_pins(document, node_id, values, nodes)
        node_type = self.runs.engine.registry.get(spec.type, tenant)
        if node_type is not None and node_type.background:
            raise Invalid(f"node {node_name(document, node_id)} runs in the background after the answer: "
                          "run the whole flow to try it")
        single = one_node_document(document, node_id)
        values[NODE_MARK] = node_id
        return await self.runs.start(tenant, single, values, session_id=session_id, version=version,
                                     listener=listener, reuse=Reuse(seed=nodes, on_records=on_records))

    async def run_from(self, tenant: str, document: FlowDocument, node_id: str, run_id: str, *,
                       session_id: str | None = None, version: int | None = None, listener: Listener | None = None,
                       on_records: RecordSink | None = None) -> StartedRun:
        """Run ``document`` again from ``node_id``: each node that does not depend on it keeps its
        output from run ``run_id`` (the same tenant's), the rest runs with the run's inputs."""
        past = await self.runs.stored(tenant, run_id)
        rows = await self.runs.database.run(repo.run_nodes, tenant, run_id)
        again = downstream(document, node_id)
        known: dict[str, tuple[dict[str, Any], str | None]] = {}
        for row in rows:
            if row.node_id in again or row.status not in REUSABLE or row.output is None:
                continue
            if row.folded:
                raise Invalid(f"the output of node {node_name(document, row.node_id)} in that run was too large to "
                              "keep whole: run the whole flow instead")
            refuse_masked_output(document, node_id, row)
            if document.node(row.node_id) is not None:
                known[row.node_id] = (dict(row.output), row.text)
        inputs = {k: v for k, v in (past.inputs or {}).items() if k not in ("session_id", NODE_MARK)}
        return await self.runs.start(tenant, document, inputs, session_id=session_id or past.session_id or None,
                                     version=version, listener=listener,
                                     reuse=Reuse(known=known, on_records=on_records))
