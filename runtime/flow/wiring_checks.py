"""Warnings about the wiring: a flow that runs, but probably not as its author meant.

``validate_flow`` lists errors, the things that stop a flow from running. These checks find what
runs anyway and surprises a person later, so they are warnings (``severity="warning"``): shown
in the editor and by ``akis validate``, never blocking a save or a run.

- ``unreachable``: a node no path from the input reaches starts with the run, before the rest;
- ``dead_end``: a node whose output reaches no Output (nothing uses what it makes);
- ``no_answer``: an Output no node is connected to, or whose field reads only values no node
  before it writes (the run would answer an empty string);
- ``unknown_variable``: a template reads a name no node before it writes and the input does not
  declare (with "did you mean" the closest known name); a name read with ``| default(...)`` or
  tested with ``is defined`` is optional and not reported.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import meta, nodes

from ..engine.templating import is_template, syntax_tree
from ..errors import Problem
from ..nodes.base import NodeType
from ..nodes.registry import NodeRegistry, default_registry
from .graph import FlowGraph
from .model import FlowDocument, NodeSpec
from .names import NodeNames

# what every run's context holds besides its nodes' outputs (engine.py, run.py; ai.py reads history)
BUILTIN_NAMES = frozenset({"tenant_id", "session_id", "run_id", "nodes", "history"})


def wiring_warnings(flow: FlowDocument, registry: NodeRegistry | None = None,
                    tenant_id: str | int | None = None) -> list[Problem]:
    """Every wiring warning of ``flow`` (empty: nothing looks off). Never raises for a bad flow:
    what validation reports as an error (a cycle, an unknown type) is skipped here."""
    registry = registry or _registry()
    tenant = str(tenant_id) if tenant_id is not None else None
    graph = FlowGraph.build(flow)
    if graph.cycle is not None:
        return []
    types = {n.id: t for n in flow.nodes if (t := registry.get(n.type, tenant)) is not None}
    names = NodeNames(flow)
    found: list[Problem] = []
    found += _unreachable(flow, graph, types, names)
    found += _dead_ends(flow, graph, types, names)
    found += _templates(flow, graph, types, names)
    found += _unused_answers(flow, graph, types, names)
    return found


_DEFAULT: list[NodeRegistry] = []


def _registry() -> NodeRegistry:
    if not _DEFAULT:
        _DEFAULT.append(default_registry())
    return _DEFAULT[0]


def _warning(code: str, message: str, node_id: str, field: str | None = None) -> Problem:
    return Problem(code, message, node_id=node_id, field=field, severity="warning")


def _of_type(flow: FlowDocument, types: dict[str, NodeType], type_id: str) -> list[NodeSpec]:
    return [n for n in flow.nodes if n.id in types and types[n.id].type_id == type_id]


def _unreachable(flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType],
                 names: NodeNames) -> list[Problem]:
    inputs = _of_type(flow, types, "user_input")
    if not inputs:
        return []  # "the flow has no user_input node" is already an error
    starts = [graph.index[n.id] for n in inputs]
    first = names(inputs[0].id)
    out = []
    for node in flow.nodes:
        i = graph.index[node.id]
        if i in starts or any(graph.is_ancestor(s, i) for s in starts):
            continue
        out.append(_warning(
            "unreachable",
            f"node {names(node.id)} is not connected to the input {first}: it runs at the start of every "
            f"run, before anything else, with only the run's inputs (connect it after the node it needs)",
            node.id))
    return out


def _dead_ends(flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType],
               names: NodeNames) -> list[Problem]:
    outputs = [graph.index[n.id] for n in _of_type(flow, types, "output")]
    if not outputs:
        return []  # "the flow has no output node" is already an error
    out = []
    for node in flow.nodes:
        node_type = types.get(node.id)
        i = graph.index[node.id]
        if node_type is None or node_type.type_id == "output" or node_type.background or i in outputs:
            continue
        if any(graph.is_ancestor(i, o) for o in outputs):
            continue
        if not graph.succs[i]:
            message = (f"node {names(node.id)} leads nowhere: connect it to the node that uses its result "
                       "(or to an Output), or delete it")
        else:
            message = f"node {names(node.id)} leads to no Output: what it makes is never answered"
        out.append(_warning("dead_end", message, node.id))
    for node in _of_type(flow, types, "output"):
        if not graph.preds[graph.index[node.id]]:
            out.append(_warning(
                "no_answer", f"Output {names(node.id)} receives nothing: connect the node whose answer it returns "
                "(an AI response, for example)", node.id))
    return out


def _templates(flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType],
               names: NodeNames) -> list[Problem]:
    declared = set(BUILTIN_NAMES)
    for node in _of_type(flow, types, "user_input"):
        fields = node.config.get("fields", ["user_message"])
        declared |= {str(f) for f in fields} if isinstance(fields, list) else set()
    writes = {n.id: types[n.id].output_keys(n.config) if n.id in types else set() for n in flow.nodes}
    everything = declared.union(*writes.values())
    available = _available(graph, writes, declared)
    out = []
    for node in flow.nodes:
        node_type = types.get(node.id)
        if node_type is None:
            continue
        before = available[graph.index[node.id]]
        for path, text in _strings(_config(node, node_type), "config"):
            read, optional = _names(text)
            if node_type.type_id == "output" and read | optional and not (read | optional) & before:
                shown = ", ".join(repr(n) for n in sorted(read | optional))
                out.append(_warning(
                    "no_answer", f"Output {names(node.id)}, field {path!r} reads {shown}, which no node before it "
                    "writes: the run answers nothing there (connect the node that writes it, or map another value)",
                    node.id, field=_field(path)))
                continue
            for name in sorted(read - before):
                out.append(_warning("unknown_variable",
                                    _unknown(names(node.id), path, name, before, everything, flow, writes, names),
                                    node.id, field=_field(path)))
    return out


def _unused_answers(flow: FlowDocument, graph: FlowGraph, types: dict[str, NodeType],
                    names: NodeNames) -> list[Problem]:
    """An Output fed by a node whose result none of its fields reads (a new flow's Output still
    echoing ``{{ user_message }}`` after an AI response was wired into it)."""
    out = []
    for node in _of_type(flow, types, "output"):
        read: set[str] = set()
        for _, text in _strings(_config(node, types[node.id]), "config"):
            needed, optional = _names(text)
            read |= needed | optional
        if "nodes" in read:
            continue  # reads results by node id
        for p in graph.preds[graph.index[node.id]]:
            source = flow.nodes[p] if flow.nodes[p].id == graph.ids[p] else flow.node(graph.ids[p])
            source_type = types.get(graph.ids[p])
            if source is None or source_type is None:
                continue
            keys = source_type.output_keys(source.config)
            if keys and not keys & read:
                shown = ", ".join(repr(k) for k in sorted(keys))
                out.append(_warning(
                    "answer_unused",
                    f"Output {names(node.id)} is connected to {names(source.id)} but none of its fields reads what "
                    f"it writes ({shown}): map one, e.g. {{{{ {sorted(keys)[0]} }}}}", node.id, field="config.fields"))
    return out


def _available(graph: FlowGraph, writes: dict[str, set[str]], declared: set[str]) -> list[frozenset[str]]:
    """Per node (by graph index): the names the input declares or a node before it writes,
    in one pass in topological order."""
    available: list[frozenset[str]] = [frozenset()] * len(graph.ids)
    for i in graph.order:
        names = set(declared)
        for p in graph.preds[i]:
            names |= available[p] | writes[graph.ids[p]]
        available[i] = frozenset(names)
    return available


def _unknown(node: str, path: str, name: str, before: frozenset[str], everything: set[str], flow: FlowDocument,
             writes: dict[str, set[str]], names: NodeNames) -> str:
    message = f"node {node}, field {path!r} reads {name!r}, which "
    writers = [n.id for n in flow.nodes if name in writes[n.id]]
    if writers:
        return message + (f"{names(writers[0])} writes but not before this node: connect {names(writers[0])} "
                          "to it (directly or through the nodes between)")
    message += "no node before it writes and the input does not declare"
    close = difflib.get_close_matches(name, sorted(before) or sorted(everything), n=1, cutoff=0.6)
    if close:
        return message + f" (did you mean {close[0]!r}?)"
    return message + " (a run fails unless its inputs bring it; use '| default(...)' if it is optional)"


def _config(node: NodeSpec, node_type: NodeType) -> dict[str, Any]:
    """The node's config with its type's defaults filled in (an Output with no config still
    returns ``{{ answer | default('') }}``)."""
    defaults: dict[str, Any] = {}
    for key, info in node_type.Config.model_fields.items():
        if key not in node.config and not info.is_required():
            defaults[key] = info.get_default(call_default_factory=True)
    return {**defaults, **node.config}


def _field(path: str) -> str:
    """``config.fields.answer`` -> the config field the inspector shows (``config.fields``)."""
    parts = path.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else path


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")
    elif is_template(value):
        yield where, value


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names a template needs, names it reads only as optional) — a template that does not
    parse reads nothing here (validation reports it)."""
    tree = syntax_tree(text)  # the sandbox's parser: meta's code generator folds constants otherwise
    if tree is None:  # too large or not a template: validation reports it
        return frozenset(), frozenset()
    free = meta.find_undeclared_variables(tree)
    guarded: set[int] = set()
    for filt in tree.find_all(nodes.Filter):
        if filt.name in ("default", "d") and filt.node is not None:
            guarded |= {id(n) for n in _roots(filt.node)}
    for test in tree.find_all(nodes.Test):
        if test.name in ("defined", "undefined", "none"):
            guarded |= {id(n) for n in _roots(test.node)}
    for cond in tree.find_all(nodes.CondExpr):
        if isinstance(cond.test, nodes.Test):
            guarded |= {id(n) for n in _roots(cond.expr1)}
    for branch in tree.find_all(nodes.If):
        if isinstance(branch.test, nodes.Test):
            for body in branch.body:
                guarded |= {id(n) for n in body.find_all(nodes.Name)}
    needed: set[str] = set()
    optional: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name not in free:
            continue
        (optional if id(name) in guarded else needed).add(name.name)
    return frozenset(needed), frozenset(optional - needed)


def _roots(node: nodes.Node) -> list[nodes.Name]:
    """The variable a (possibly dotted) expression starts from: ``a.b['c']`` -> ``a``."""
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        node = node.node
    return [node] if isinstance(node, nodes.Name) else []
