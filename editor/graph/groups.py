"""Parallel-group edits of a FlowDraft: group, ungroup, rename, choose the join, and the
frame a dragged node was dropped on (into a group, or out of one)."""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from runtime.flow.graph import FlowGraph
from runtime.flow.model import ParallelGroup

from .common import KEEP, EditError, unset
from .notes import NOTE_PREFIX

if TYPE_CHECKING:
    from runtime.flow.model import FlowDocument, NodeSpec


class GroupEdits:
    """Mixed into FlowDraft, which provides ``document``, ``node``, ``group``, ``group_of`` and ``_edit``."""

    if TYPE_CHECKING:
        document: FlowDocument

        def _move_notes(self, moves: dict[str, tuple[float, float]]) -> None: ...

        def _edit(self, key: Hashable | None = None) -> AbstractContextManager[None]: ...
        def node(self, node_id: str) -> NodeSpec: ...
        def group(self, group_id: str) -> ParallelGroup: ...
        def group_of(self, node_id: str) -> ParallelGroup | None: ...

    def drop_nodes(self, moves: dict[str, tuple[float, float]], frame: str | None) -> bool:
        """A drag that ended: move the nodes and, in the same undo step, follow the frame they
        were dropped on: into that parallel group, or out of their group when dropped outside it.

        Moving every member of a group together moves the group: membership does not change.
        Returns True when a membership changed.
        """
        notes = {k.removeprefix(NOTE_PREFIX): v for k, v in moves.items() if k.startswith(NOTE_PREFIX)}
        moves = {k: v for k, v in moves.items() if self.document.node(k) is not None}
        if frame is not None and not any(g.id == frame for g in self.document.parallel_groups):
            frame = None
        changing = []
        for node_id in moves:
            current = self.group_of(node_id)
            if current is not None and set(current.nodes) <= set(moves):
                continue
            if (current.id if current else None) != frame:
                changing.append(node_id)
        if not moves and not notes:
            return False
        with self._edit():
            self._move_notes(notes)
            for node_id, (x, y) in moves.items():
                node = self.node(node_id)
                node.ui = {**(node.ui or {}), "x": round(x), "y": round(y)}
            if changing:
                self._leave_groups(changing)
                if frame is not None:
                    group = self.group(frame)
                    group.nodes = [*group.nodes, *changing]
        return bool(changing)


    def new_group_id(self) -> str:
        taken = {g.id for g in self.document.parallel_groups}
        number = len(taken) + 1
        while f"group_{number}" in taken:
            number += 1
        return f"group_{number}"

    def make_group(self, node_ids: Iterable[str], label: str | None = None, join_at: str | None = None) -> str:
        """Group the nodes for parallel execution; they leave any group they were in."""
        members = list(dict.fromkeys(node_ids))
        for node_id in members:
            self.node(node_id)
        if len(members) < 2:
            raise EditError("select at least two nodes to make a parallel group")
        group_id = self.new_group_id()
        fields: dict[str, Any] = {"id": group_id, "label": label or f"Parallel {group_id.removeprefix('group_')}",
                                  "nodes": members}
        if join_at:
            fields["join_at"] = join_at
        with self._edit():
            self._leave_groups(members)
            self.document.parallel_groups.append(ParallelGroup.model_validate(fields))
        return group_id

    def ungroup(self, group_id: str) -> None:
        self.group(group_id)
        with self._edit():
            self.document.parallel_groups = [g for g in self.document.parallel_groups if g.id != group_id]

    def update_group(self, group_id: str, *, label: Any = KEEP, join_at: Any = KEEP) -> None:
        """Rename, or choose the join (``None``: let the engine discover it)."""
        with self._edit(("group", group_id, label is not KEEP, join_at is not KEEP)):
            group = self.group(group_id)
            if label is not KEEP:
                group.label = label or None
            if join_at is not KEEP:
                if join_at:
                    self.node(join_at)
                    group.join_at = join_at
                else:
                    unset(group, "join_at")

    def set_membership(self, node_ids: Iterable[str], group_id: str | None) -> bool:
        """Put nodes into a group (dragged into its frame) or out of every group (``None``)."""
        members = [n for n in node_ids if self.document.node(n) is not None]
        if group_id is not None:
            self.group(group_id)
        changing = [n for n in members if _group_id(self.group_of(n)) != group_id]
        if not changing:
            return False
        with self._edit():
            self._leave_groups(changing)
            if group_id is not None:
                group = self.group(group_id)
                group.nodes = [*group.nodes, *changing]
        return True

    def _leave_groups(self, node_ids: Iterable[str]) -> None:
        leaving = set(node_ids)
        kept = []
        for group in self.document.parallel_groups:
            group.nodes = [m for m in group.nodes if m not in leaving]
            if group.nodes:
                kept.append(group)
        self.document.parallel_groups = kept

    def discovered_join(self, group_id: str) -> str | None:
        """The join the engine would use: the chosen one, else the nearest node every member reaches."""
        group = self.group(group_id)
        if group.join_at:
            return group.join_at
        graph = FlowGraph.build(self.document)
        members = [graph.index[m] for m in group.nodes if m in graph.index]
        if graph.cycle is not None or not members:
            return None
        found = graph.discover_join(members)
        return graph.ids[found] if found is not None else None


def _group_id(group: ParallelGroup | None) -> str | None:
    return group.id if group is not None else None
