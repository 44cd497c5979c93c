"""Topology of a flow: predecessors, order, cycles, reachability, branch exclusivity, joins.

Pure functions of nodes and edges, computed once per flow. Reachability uses Python ints as
bitsets so that "can these two nodes run at the same time?" is a couple of bit operations.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from .model import FlowDocument


@dataclass
class FlowGraph:
    ids: list[str]
    index: dict[str, int]
    preds: list[list[int]]
    succs: list[list[int]]
    edge_branch: dict[tuple[int, int], str | None]
    order: list[int] = field(default_factory=list)  # topological, stable by document order
    cycle: list[str] | None = None
    ancestors: list[int] = field(default_factory=list)  # bitset per node
    guards: list[frozenset[tuple[int, str]]] = field(default_factory=list)

    @classmethod
    def build(cls, flow: FlowDocument) -> FlowGraph:
        """Build from a flow, ignoring edges that name unknown nodes (validation reports them)."""
        ids: list[str] = []
        index: dict[str, int] = {}
        for node in flow.nodes:
            if node.id not in index:
                index[node.id] = len(ids)
                ids.append(node.id)
        preds: list[list[int]] = [[] for _ in ids]
        succs: list[list[int]] = [[] for _ in ids]
        edge_branch: dict[tuple[int, int], str | None] = {}
        for edge in flow.edges:
            s, t = index.get(edge.source), index.get(edge.target)
            if s is None or t is None or (s, t) in edge_branch:
                continue
            edge_branch[(s, t)] = edge.branch
            succs[s].append(t)
            preds[t].append(s)
        graph = cls(ids, index, preds, succs, edge_branch)
        graph._sort()
        if graph.cycle is None:
            graph._reach()
            graph._guard()
        return graph

    # -- order and cycles ---------------------------------------------------------------------
    def _sort(self) -> None:
        indegree = [len(p) for p in self.preds]
        ready = [i for i, d in enumerate(indegree) if d == 0]
        order: list[int] = []
        heapq.heapify(ready)
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for nxt in self.succs[node]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    heapq.heappush(ready, nxt)
        self.order = order
        if len(order) != len(self.ids):
            self.cycle = self._find_cycle(set(range(len(self.ids))) - set(order))

    def _find_cycle(self, remaining: set[int]) -> list[str]:
        """Walk predecessors inside the unsorted rest until a node repeats: that is a cycle."""
        start = min(remaining)
        seen: dict[int, int] = {}
        path: list[int] = []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = next(p for p in self.preds[node] if p in remaining)
        loop = path[seen[node]:]
        loop.reverse()
        return [self.ids[i] for i in loop] + [self.ids[loop[0]]]

    # -- reachability -------------------------------------------------------------------------
    def _reach(self) -> None:
        ancestors = [0] * len(self.ids)
        for node in self.order:
            bits = 0
            for p in self.preds[node]:
                bits |= ancestors[p] | (1 << p)
            ancestors[node] = bits
        self.ancestors = ancestors

    def is_ancestor(self, a: int, b: int) -> bool:
        return bool(self.ancestors[b] >> a & 1)

    def dependent(self, a: int, b: int) -> bool:
        return self.is_ancestor(a, b) or self.is_ancestor(b, a)

    def descendants(self, a: int) -> list[int]:
        return [n for n in self.order if self.ancestors[n] >> a & 1]

    # -- condition branches -------------------------------------------------------------------
    def _guard(self) -> None:
        """guards[n]: the (condition, branch) pairs that every path into n passes through."""
        guards: list[frozenset[tuple[int, str]]] = [frozenset()] * len(self.ids)
        for node in self.order:
            incoming: frozenset[tuple[int, str]] | None = None
            for p in self.preds[node]:
                branch = self.edge_branch[(p, node)]
                via = guards[p] | {(p, branch)} if branch is not None else guards[p]
                incoming = via if incoming is None else incoming & via
            guards[node] = incoming or frozenset()
        self.guards = guards

    def exclusive(self, a: int, b: int) -> bool:
        """True when a and b sit on different branches of one condition: never both run."""
        branches_a = dict(self.guards[a])
        return any(c in branches_a and branches_a[c] != br for c, br in self.guards[b])

    def concurrent(self, a: int, b: int) -> bool:
        """Can a and b be running at the same moment in parallel execution?"""
        return a != b and not self.dependent(a, b) and not self.exclusive(a, b)

    # -- joins --------------------------------------------------------------------------------
    def discover_join(self, members: list[int]) -> int | None:
        """The nearest node every member reaches: first common descendant in topological order."""
        for node in self.order:
            if all(self.ancestors[node] >> m & 1 for m in members):
                return node
        return None
