"""A flow compiled for execution: validated once, templates compiled once, topology as
index lists. Runs share the plan, so per-run work is only rendering and scheduling."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import NodeError
from ..flow.graph import FlowGraph
from ..flow.model import CacheStrategy, FlowDocument, NodeSpec
from ..flow.validate import check_flow
from ..nodes.base import NodeConfig, NodeType
from ..nodes.registry import NodeRegistry
from .answer import answer_nodes
from .templating import Renderer, compile_config, has_templates

# built-in node types that never do I/O: a traced run makes no span context of theirs current
QUIET = frozenset({"delay", "user_input", "output", "condition", "template"})


@dataclass(slots=True)
class PlannedNode:
    index: int
    order: int  # position in the topological order: ready nodes start in this order
    id: str
    type_id: str
    node_type: NodeType
    spec: NodeSpec
    render: Renderer | None  # None: the config has no templates
    config: NodeConfig | None  # validated once when the config has no templates
    preds: list[int]
    succs: list[int]
    branch_to: dict[int, str | None]  # successor index -> branch this edge needs (None: any)
    group: str | None
    exclusive: bool
    background: bool
    streams: bool
    merge: bool
    cache: CacheStrategy | None  # effective strategy, only for a cacheable, enabled node
    inline: bool = False  # never suspends (and no cache, retry or timeout): run without a task
    plain: bool = False  # no retry and no timeout: the node's run is awaited directly
    own_span: bool = False  # traced runs make its span current while it runs (engine/spans.py start_node)

    def make_config(self, values: dict[str, Any]) -> NodeConfig:
        """This run's config: templates rendered against the values, then validated."""
        if self.config is not None:
            return self.config
        assert self.render is not None
        raw = self.render(values)
        try:
            return self.node_type.Config.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "config"
            raise NodeError(f"config field {field!r} after rendering: {err['msg']}") from None


@dataclass(slots=True)
class Plan:
    flow: FlowDocument
    flow_id: str
    tenant_id: str
    nodes: list[PlannedNode]
    roots: list[int]
    sequential: bool
    foreground_count: int
    # per-run lookups computed once
    pred_counts: list[int] = field(default_factory=list)
    outputs: list[PlannedNode] = field(default_factory=list)  # output nodes, in plan order
    streaming_last_first: list[PlannedNode] = field(default_factory=list)  # by order, descending
    by_order: list[PlannedNode] = field(default_factory=list)  # by_order[node.order] is node
    ids: list[str] = field(default_factory=list)  # ids[node.index] is node.id
    width: int = 0  # number of nodes
    initial_counts: list[int] = field(default_factory=list)  # a run's counters at its start
    background_by_order: list[PlannedNode] = field(default_factory=list)
    answer_ids: frozenset[str] | None = None  # streaming nodes whose chunks are the answer (answer.py)

    def __post_init__(self) -> None:
        self.pred_counts = [len(p.preds) for p in self.nodes]
        self.outputs = [p for p in self.nodes if p.type_id == "output"]
        self.streaming_last_first = sorted((p for p in self.nodes if p.streams), key=lambda p: -p.order)
        self.by_order = sorted(self.nodes, key=lambda p: p.order)
        self.ids = [p.id for p in self.nodes]
        self.width = len(self.nodes)
        self.initial_counts = self.pred_counts + [0] * self.width
        self.background_by_order = [p for p in self.by_order if p.background]
        assert all(p.index == i for i, p in enumerate(self.nodes))


def compile_plan(flow: FlowDocument, registry: NodeRegistry, tenant_id: str) -> Plan:
    """Validate ``flow`` for ``tenant_id`` (raises FlowValidationError) and compile it."""
    check_flow(flow, registry, tenant_id)
    graph = FlowGraph.build(flow)
    order_of = {node: position for position, node in enumerate(graph.order)}
    group_of = {member: g.id for g in flow.parallel_groups for member in g.nodes}
    planned: list[PlannedNode] = []
    configs: list[dict[str, Any]] = []  # by node index, defaults filled in
    for spec in flow.nodes:
        i = graph.index[spec.id]
        node_type = registry.get(spec.type, tenant_id)
        assert node_type is not None  # validation guarantees it
        config = with_defaults(node_type, spec.config)
        configs.append(config)
        templated = has_templates(config)
        planned.append(
            PlannedNode(
                index=i,
                order=order_of[i],
                id=spec.id,
                type_id=spec.type,
                node_type=node_type,
                spec=spec,
                render=compile_config(config, "config", spec.timeout_s) if templated else None,
                config=None if templated else node_type.Config.model_validate(config),
                preds=list(graph.preds[i]),
                succs=list(graph.succs[i]),
                branch_to={s: graph.edge_branch[(i, s)] for s in graph.succs[i]},
                group=group_of.get(spec.id),
                exclusive=not node_type.parallel_safe,
                background=node_type.background,
                streams=streams(node_type),
                merge=node_type.merge_outputs,
                cache=_effective_cache(flow, spec, node_type),
            )
        )
        node = planned[-1]
        node.plain = spec.retry is None and not spec.timeout_s
        node.inline = not node_type.suspends and not node.streams and node.cache is None and node.plain
        node.own_span = not node.inline and not (node.plain and node.cache is None and node.type_id in QUIET)
    return Plan(
        flow=flow,
        flow_id=str(flow.flow_id),
        tenant_id=tenant_id,
        nodes=planned,
        roots=[p.index for p in planned if not p.preds],
        sequential=flow.settings.execution == "sequential",
        foreground_count=sum(1 for p in planned if not p.background),
        answer_ids=answer_nodes(planned, configs),
    )


def with_defaults(node_type: NodeType, config: dict[str, Any]) -> dict[str, Any]:
    """The config with every omitted field's default filled in, so default templates
    (``"{{ user_message }}"``) are rendered like written ones."""
    full: dict[str, Any] = {}
    for name, info in node_type.Config.model_fields.items():
        if name in config or info.is_required():
            continue
        default = info.get_default(call_default_factory=True)
        full[name] = default.model_dump(mode="json") if hasattr(default, "model_dump") else default
        if isinstance(full[name], list):
            full[name] = [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in full[name]]
    full.update(config)
    return full


def streams(node_type: NodeType) -> bool:
    """Whether the node's run streams chunks: declared, or written as an async generator."""
    return node_type.streams or inspect.isasyncgenfunction(type(node_type).run)


def _effective_cache(flow: FlowDocument, spec: NodeSpec, node_type: NodeType) -> CacheStrategy | None:
    """The node's own strategy, else its type's; never for a type that may not be cached."""
    if not node_type.cacheable or streams(node_type):
        return None
    strategy = spec.cache or flow.cache_strategy.get(spec.type)
    if strategy is None or not strategy.enabled:
        return None
    extra = [tag for tag in node_type.cache_tags(spec.config) if tag not in strategy.tags]
    return strategy.model_copy(update={"tags": [*strategy.tags, *extra]}) if extra else strategy
