"""Which streaming nodes' text is the run's answer, decided from the flow before it runs.

A flow may stream more than one node (a draft that a second AI node rewrites), but what a
person asked for is what the Output returns. So the answer's nodes are the streaming nodes the
Output's ``answer`` field (every field when it has none) is taken from: the names it reads,
traced to the nearest node before it that writes each (a later writer on the way hides an
earlier one, as it does in the run's values), on through non-streaming nodes (a template that
passes a streamed text on) until a streaming node; ``nodes.<id>`` names the node itself.
Computed once per plan (``Plan.answer_ids``); the published widget streams only these nodes'
chunks (``editor/api/publishing.py``).

None when the rule cannot tell: no Output, a template that does not parse (or is over the
template size limits) or reads ``nodes`` by a computed key, or an Output whose answer comes from
no streaming node. Then every streamed chunk counts as the answer, as it did before this rule.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from jinja2 import meta, nodes

from .templating import is_template, syntax_tree

if TYPE_CHECKING:
    from .plan import PlannedNode

Reads = tuple[frozenset[str], frozenset[str]]  # (value names, node ids read as nodes.<id>)


def answer_nodes(planned: Sequence[PlannedNode], configs: Sequence[dict[str, Any]]) -> frozenset[str] | None:
    """The ids of the streaming nodes whose chunks are the answer (``configs[i]``: node i's
    config with its type's defaults), or None when the rule cannot tell."""
    tracer = _Tracer(planned, configs)
    outputs = [node for node in planned if node.type_id == "output"]
    for output in outputs:
        fields = configs[output.index].get("fields")
        mapped = fields.get("answer", fields) if isinstance(fields, dict) else fields
        if not tracer.trace(output, _reads(mapped)):
            return None
    return frozenset(tracer.found) if outputs and tracer.found else None


class _Tracer:
    """Follows the values a node reads back to the streaming nodes that made them."""

    def __init__(self, planned: Sequence[PlannedNode], configs: Sequence[dict[str, Any]]) -> None:
        self.planned, self.configs = planned, configs
        self.by_id = {node.id: node for node in planned}
        self.ancestors = [0] * len(planned)  # bitset of node indexes per node index
        for node in sorted(planned, key=lambda p: p.order):
            for p in node.preds:
                self.ancestors[node.index] |= self.ancestors[p] | (1 << p)
        self.writers: dict[str, list[int]] = {}
        for node in planned:
            if node.merge:
                for key in node.node_type.output_keys(configs[node.index]):
                    self.writers.setdefault(key, []).append(node.index)
        self.found: set[str] = set()
        self.seen: set[int] = set()

    def trace(self, reader: PlannedNode, reads: Reads | None) -> bool:
        """Collect the sources of what ``reader`` reads; False when they cannot be known."""
        if reads is None:
            return False
        names, node_ids = reads
        sources = [self.by_id[i].index for i in node_ids if i in self.by_id]
        for name in names:
            sources += self._nearest(self.writers.get(name, []), reader.index)
        return all(self._visit(self.planned[i]) for i in sources)

    def _visit(self, node: PlannedNode) -> bool:
        if node.streams:
            self.found.add(node.id)
            return True
        if node.index in self.seen:
            return True
        self.seen.add(node.index)
        return self.trace(node, _reads(self.configs[node.index]))

    def _nearest(self, writers: list[int], reader: int) -> list[int]:
        """The writers before ``reader`` that no other writer between them and it hides."""
        before = [w for w in writers if self.ancestors[reader] >> w & 1]
        return [w for w in before if not any(self.ancestors[o] >> w & 1 for o in before if o != w)]


def _reads(value: Any) -> Reads | None:
    """What the templates in ``value`` read; None when a template does not parse or reads
    ``nodes`` other than as ``nodes.<id>`` / ``nodes['<id>']``."""
    names: set[str] = set()
    node_ids: set[str] = set()
    for text in _templates(value):
        tree = syntax_tree(text)  # bounded like every template the engine compiles
        if tree is None:
            return None
        free = meta.find_undeclared_variables(tree)
        if "nodes" in free:
            keyed = _keyed_nodes(tree)
            loads = [n for n in tree.find_all(nodes.Name) if n.name == "nodes" and n.ctx == "load"]
            if len(keyed) != len(loads):
                return None
            node_ids |= set(keyed.values())
        names |= free - {"nodes"}
    return frozenset(names), frozenset(node_ids)


def _keyed_nodes(tree: nodes.Template) -> dict[int, str]:
    """``id(Name)`` -> node id, for each ``nodes`` read with a constant key."""
    keyed: dict[int, str] = {}
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(access, nodes.Getattr):
            key: str | None = access.attr
        elif isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const):
            key = access.arg.value if isinstance(access.arg.value, str) else None
        else:
            continue
        target = access.node
        if key is not None and isinstance(target, nodes.Name) and target.name == "nodes":
            keyed[id(target)] = key
    return keyed


def _templates(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _templates(item)
    elif is_template(value):
        yield value
