"""Validation mapped to where the editor shows it: nodes, edges, group frames and form fields.

``runtime.validate_flow`` names the node, edge, group and field of each problem; this module only
files them so the canvas can put a badge on the right thing and the inspector next to the right
input. A problem that names nothing (a flow without an output node) goes to ``general``.

Errors (``validate_flow``: the flow cannot run) and wiring warnings (``wiring_warnings``: it runs,
probably not as meant) are filed together; ``len()`` and the red node badges count errors only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from runtime.errors import Problem
from runtime.flow.model import FlowDocument
from runtime.flow.validate import validate_flow
from runtime.flow.wiring_checks import wiring_warnings
from runtime.nodes.registry import NodeRegistry


@dataclass
class ProblemIndex:
    problems: list[Problem] = field(default_factory=list)
    by_node: dict[str, list[Problem]] = field(default_factory=dict)
    by_edge: dict[tuple[str, str], list[Problem]] = field(default_factory=dict)
    by_group: dict[str, list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)

    @classmethod
    def build(cls, problems: list[Problem], document: FlowDocument) -> ProblemIndex:
        index = cls(problems=list(problems))
        for problem in problems:
            placed = False
            if problem.group_id:
                index.by_group.setdefault(problem.group_id, []).append(problem)
                placed = True
            if problem.edge:
                index.by_edge.setdefault(problem.edge, []).append(problem)
                placed = True
            nodes = [problem.node_id] if problem.node_id else []
            if not nodes and problem.field and problem.field.startswith("cache_strategy."):
                type_id = problem.field.removeprefix("cache_strategy.")
                nodes = [n.id for n in document.nodes if n.type == type_id]
            for node_id in nodes:
                if not problem.edge:  # an edge problem is drawn on the edge, not on its source
                    index.by_node.setdefault(node_id, []).append(problem)
                placed = True
            if not placed:
                index.general.append(problem)
        return index

    def __len__(self) -> int:
        """The errors: what stops the flow from running (warnings do not)."""
        return len(self.errors)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.is_warning]

    def node_messages(self, node_id: str) -> list[str]:
        """The node's errors (its red badge)."""
        return [p.message for p in self.by_node.get(node_id, []) if not p.is_warning]

    def node_warnings(self, node_id: str) -> list[str]:
        return [p.message for p in self.by_node.get(node_id, []) if p.is_warning]

    def field_errors(self, node_id: str) -> dict[str, list[str]]:
        """``{"config.query": [...], "cache.key_fields": [...], "fallback": [...]}`` for one node."""
        out: dict[str, list[str]] = {}
        for problem in self.by_node.get(node_id, []):
            if problem.field and not problem.is_warning:
                out.setdefault(problem.field, []).append(problem.message)
        return out

    def target_of(self, problem: Problem) -> str | None:
        """The node to select when a person clicks the problem."""
        if problem.node_id:
            return problem.node_id
        if problem.edge:
            return problem.edge[0]
        owners = [node_id for node_id, found in self.by_node.items() if problem in found]
        return owners[0] if owners else None


def check(document: FlowDocument, registry: NodeRegistry | None, tenant_id: str | None) -> ProblemIndex:
    """Validate the document and index its errors and wiring warnings; never raises for a bad document."""
    problems = validate_flow(document, registry, tenant_id) + wiring_warnings(document, registry, tenant_id)
    return ProblemIndex.build(problems, document)
