"""Validation: every problem of a flow at once, each naming the node, edge, group or field.

Loading and validating never run node code: only the node types' declarations are read.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Protocol, cast

from pydantic import ValidationError

from ..engine.templating import TemplateCheck, is_template
from ..errors import FlowValidationError, Problem
from ..nodes.base import NodeType
from ..nodes.registry import NodeRegistry, default_registry
from .graph import FlowGraph
from .migrate import RETIRED_FIELDS
from .model import FlowDocument
from .names import NodeNames


def validate_flow(
    flow: FlowDocument, registry: NodeRegistry | None = None, tenant_id: str | int | None = None
) -> list[Problem]:
    """Return every problem found (empty list: the flow is valid)."""
    registry = registry or _shared_default(default_registry)
    tenant = str(tenant_id) if tenant_id is not None else None
    problems: list[Problem] = []
    names = NodeNames(flow)  # messages name nodes by their labels
    types = _check_nodes(flow, registry, tenant, problems, TemplateCheck(), names)
    graph = FlowGraph.build(flow)
    _check_edges(flow, types, problems, names)
    if graph.cycle:
        path = " -> ".join(names(n) for n in graph.cycle)
        problems.append(Problem("cycle", f"the edges form a cycle: {path}", node_id=graph.cycle[0]))
    else:
        _check_groups(flow, graph, types, problems, names)
        _check_output_races(flow, graph, types, problems, names)
        _check_background(flow, graph, types, problems, names)
    _check_cache(flow, types, problems, names)
    _check_ends(types, problems)
    return problems


def check_flow(flow: FlowDocument, registry: NodeRegistry | None = None, tenant_id: str | int | None = None) -> None:
    """Raise :class:`FlowValidationError` listing every problem, if there is any."""
    problems = validate_flow(flow, registry, tenant_id)
    if problems:
        raise FlowValidationError(problems)


_DEFAULT: list[NodeRegistry] = []


def _shared_default(factory: Any) -> NodeRegistry:
    if not _DEFAULT:
        _DEFAULT.append(factory())
    return _DEFAULT[0]


def _check_nodes(
    flow: FlowDocument, registry: NodeRegistry, tenant: str | None, problems: list[Problem], templates: TemplateCheck,
    names: NodeNames,
) -> dict[str, NodeType]:
    types: dict[str, NodeType] = {}
    for node_id, count in Counter(n.id for n in flow.nodes).items():
        if count > 1:
            problems.append(Problem("duplicate_id", f"node id {node_id!r} is used {count} times", node_id=node_id))
    for node in flow.nodes:
        node_type = registry.get(node.type, tenant)
        if node_type is None:
            owners = registry.owner_of(node.type)
            why = " (a plugin type of another tenant)" if owners else ""
            problems.append(Problem("unknown_type", f"node {names(node.id)}: unknown node type {node.type!r}{why}",
                                    node_id=node.id, field="type"))
            continue
        types.setdefault(node.id, node_type)
        _check_config(node.id, names(node.id), node.config, node_type, problems, templates)
        _check_own_rules(node.id, names(node.id), node.config, node_type, str(flow.flow_id), problems)
        if node.on_error == "fallback" and node.fallback is None:
            problems.append(Problem(
                "fallback", f"node {names(node.id)}: on_error is 'fallback' but no 'fallback' value is set",
                node_id=node.id, field="fallback"))
    return types


def _check_config(node_id: str, name: str, config: dict[str, Any], node_type: NodeType, problems: list[Problem],
                  templates: TemplateCheck) -> None:
    templated = {key for key, value in config.items() if is_template(value)}
    for key, value in config.items():
        # a template that does not compile, is too large, or meets a sandbox limit by itself
        for path, message in templates.problems(value, f"config.{key}"):
            problems.append(Problem("template", f"node {name}, field {path!r}: {message}",
                                    node_id=node_id, field=f"config.{key}"))
    try:
        node_type.Config.model_validate(config)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            if loc and loc[0] in templated:
                continue  # checked again after rendering, at run time
            field = "config." + ".".join(loc) if loc else "config"
            code, message = "config", err["msg"]
            if err["type"] == "extra_forbidden" and len(loc) == 1:
                code, message = RETIRED_FIELDS.get((node_type.type_id, loc[0]), (code, message))
            problems.append(Problem(code, f"node {name}, field {field!r}: {message}",
                                    node_id=node_id, field=field))


def _check_own_rules(node_id: str, name: str, config: dict[str, Any], node_type: NodeType, flow_id: str,
                     problems: list[Problem]) -> None:
    """A type's own checks beyond its config model (an agent's tools, a sub-flow calling its own
    flow): ``config_problems(config, flow_id)`` returns (field, message) pairs."""
    own = getattr(node_type, "config_problems", None)
    if own is None:
        return
    for field, message in own(config, flow_id):
        problems.append(Problem("config", f"node {name}, field {field!r}: {message}",
                                node_id=node_id, field=field))


def _check_edges(flow: FlowDocument, types: dict[str, NodeType], problems: list[Problem], names: NodeNames) -> None:
    ids = {n.id for n in flow.nodes}
    seen: set[tuple[str, str]] = set()
    for edge in flow.edges:
        pair = (edge.source, edge.target)
        where = f"edge {names.plain(edge.source)} -> {names.plain(edge.target)}"
        for end, name in (("source", edge.source), ("target", edge.target)):
            if name not in ids:
                problems.append(Problem("edge", f"{where}: {end} {name!r} is not a node",
                                        edge=pair))
        if edge.source == edge.target:
            problems.append(Problem("edge", f"{where} connects a node to itself",
                                    edge=pair, node_id=edge.source))
        if pair in seen:
            problems.append(Problem("edge", f"{where} appears twice", edge=pair))
        seen.add(pair)
        source_type = types.get(edge.source)
        if edge.branch is not None and source_type is not None:
            if source_type.type_id != "condition":
                problems.append(Problem(
                    "branch", f"{where}: only a condition node has branches", edge=pair))
            else:
                source = next(n for n in flow.nodes if n.id == edge.source)
                # the "condition" type declares its branches (nodes/builtins/logic.py)
                branches = cast(_Branching, source_type).branches(source.config)
                if edge.branch not in branches:
                    problems.append(Problem(
                        "branch",
                        f"{where}: branch {edge.branch!r} is not one of {branches}",
                        edge=pair))


class _Branching(Protocol):
    def branches(self, config: dict[str, Any]) -> list[str]: ...


def _check_groups(
    flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType], problems: list[Problem], names: NodeNames
) -> None:
    owner: dict[str, str] = {}
    for group in flow.parallel_groups:
        where = f"parallel group {group.id!r}"
        members = [m for m in group.nodes if m in graph.index]
        for missing in (m for m in group.nodes if m not in graph.index):
            problems.append(Problem("group", f"{where}: member {missing!r} is not a node",
                                    group_id=group.id, node_id=missing))
        for member in members:
            if member in owner:
                problems.append(Problem("group", f"{where}: node {names(member)} is already in group {owner[member]!r}",
                                        group_id=group.id, node_id=member))
            owner.setdefault(member, group.id)
            node_type = types.get(member)
            if node_type is not None and not node_type.parallel_safe:
                problems.append(Problem(
                    "group_ai",
                    f"{where}: node {names(member)} ({node_type.type_id}) must never run in parallel: "
                    "it depends on the whole context",
                    group_id=group.id, node_id=member))
        idx = [graph.index[m] for m in members]
        for i, a in enumerate(idx):
            for b in idx[i + 1:]:
                if graph.dependent(a, b):
                    first, second = (a, b) if graph.is_ancestor(a, b) else (b, a)
                    problems.append(Problem(
                        "group_dependent",
                        f"{where}: {names(graph.ids[second])} depends on {names(graph.ids[first])}, "
                        "so they cannot run in parallel",
                        group_id=group.id, node_id=graph.ids[second]))
        if group.join_at is not None:
            join = graph.index.get(group.join_at)
            if join is None:
                problems.append(Problem("join", f"{where}: join_at {group.join_at!r} is not a node",
                                        group_id=group.id, field="join_at"))
            else:
                for m in idx:
                    if not graph.is_ancestor(m, join):
                        problems.append(Problem(
                            "join", f"{where}: join_at {names(group.join_at)} is not reached from member "
                            f"{names(graph.ids[m])}",
                            group_id=group.id, node_id=graph.ids[m], field="join_at"))


def _check_output_races(
    flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType], problems: list[Problem], names: NodeNames
) -> None:
    writers: dict[str, list[int]] = defaultdict(list)
    for node in flow.nodes:
        node_type = types.get(node.id)
        if node_type is not None and node.id in graph.index:
            for key in sorted(node_type.output_keys(node.config)):
                writers[key].append(graph.index[node.id])
    for key, nodes in writers.items():
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                if graph.concurrent(a, b):
                    problems.append(Problem(
                        "output_race",
                        f"nodes {names(graph.ids[a])} and {names(graph.ids[b])} can run at the same time "
                        f"and both write {key!r}",
                        node_id=graph.ids[b], field=key))


def _check_background(
    flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType], problems: list[Problem], names: NodeNames
) -> None:
    for node_id, node_type in types.items():
        if node_type.background and node_id in graph.index:
            after = [names(graph.ids[s]) for s in graph.succs[graph.index[node_id]]]
            if after:
                problems.append(Problem(
                    "background",
                    f"node {names(node_id)} runs in the background after the response, so nothing may follow it "
                    f"(it leads to {', '.join(after)})",
                    node_id=node_id))


def _check_cache(flow: FlowDocument, types: dict[str, NodeType], problems: list[Problem], names: NodeNames) -> None:
    known = {t.type_id: t for t in types.values()}
    for type_id, strategy in flow.cache_strategy.items():
        node_type = known.get(type_id)
        if node_type is None:
            continue  # a strategy for a type this flow does not use is harmless
        if strategy.enabled and not node_type.cacheable:
            problems.append(Problem(
                "cache",
                f"cache_strategy {type_id!r}: {type_id} is never cached (its answer depends on the whole context)",
                field=f"cache_strategy.{type_id}"))
    for node in flow.nodes:
        node_type = types.get(node.id)
        if node_type is None:
            continue
        effective = node.cache or flow.cache_strategy.get(node.type)
        if node.cache and node.cache.enabled and not node_type.cacheable:
            problems.append(Problem(
                "cache",
                f"node {names(node.id)}: {node.type} is never cached (its answer depends on the whole context)",
                node_id=node.id, field="cache"))
        if effective and effective.enabled and effective.key_fields:
            fields = set(node_type.Config.model_fields)
            for name in effective.key_fields:
                if name not in fields:
                    problems.append(Problem(
                        "cache",
                        f"node {names(node.id)}: cache key field {name!r} is not a config field of {node.type} "
                        f"({', '.join(sorted(fields))})",
                        node_id=node.id, field="cache.key_fields"))


def _check_ends(types: dict[str, NodeType], problems: list[Problem]) -> None:
    present = {t.type_id for t in types.values()}
    for needed in ("user_input", "output"):
        if needed not in present:
            problems.append(Problem("missing_" + needed, f"the flow has no {needed} node"))
