"""FlowDraft: the flow being edited, with typed edit operations and undo/redo.

Every edit goes through one method here, so every edit is undoable, marks the draft unsaved and
bumps ``revision`` (the page re-renders on that). The draft never talks to the browser or the
database: it is plain Python over :class:`runtime.FlowDocument`, tested without either.
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.flow.graph import FlowGraph
from runtime.flow.model import CacheStrategy, EdgeSpec, FlowDocument, NodeSpec, ParallelGroup, RetryPolicy
from runtime.nodes.registry import NodeRegistry

from .history import History, Snapshot
from .layout import layered_positions

KEEP: Any = object()  # "leave this field as it is" for optional arguments that may be None
NEW_NODE_OFFSET = (116, 32)  # a drop point is the node's centre; positions are its top-left corner


class EditError(ValueError):
    """An edit that cannot be made; the message says why, for a person."""


def edge_ref(edge: EdgeSpec) -> str:
    """The id the canvas knows an edge by (same formula as the canvas's JavaScript)."""
    return edge.id or f"{edge.source}->{edge.target}" + (f"#{edge.branch}" if edge.branch else "")


def type_title(node_type: Any) -> str:
    """A node type's display name (``describe()`` builds a JSON Schema: too slow per node)."""
    return node_type.title or node_type.type_id.replace("_", " ").capitalize()


def unset(model: BaseModel, name: str) -> None:
    """Back to the default *and* not exported, so the round trip stays the identity."""
    field = type(model).model_fields[name]
    setattr(model, name, field.get_default(call_default_factory=True))
    model.__pydantic_fields_set__.discard(name)


class FlowDraft:
    """A flow document plus its edit history and its saved state."""

    def __init__(
        self,
        document: FlowDocument,
        registry: NodeRegistry | None = None,
        tenant_id: str | None = None,
        version: int | None = None,
        saved: Snapshot | None = None,
    ) -> None:
        """:param version: the stored version this draft is based on (None: never saved).
        :param saved: the saved document's export form when ``document`` already has unsaved edits.
        """
        self.document = document
        self.registry = registry
        self.tenant_id = tenant_id
        self.version = version
        self.history = History()
        self.revision = 0
        self._saved: Snapshot = saved if saved is not None else document.dump()

    # ---------- state ----------
    @property
    def dirty(self) -> bool:
        """True when the document differs from the last saved (or loaded) one."""
        return self.document.dump() != self._saved

    @property
    def saved_document(self) -> FlowDocument:
        return FlowDocument.model_validate(self._saved)

    def mark_saved(self, version: int | None) -> None:
        self.version = version
        self._saved = self.document.dump()
        self.history.seal()
        self.revision += 1

    def node(self, node_id: str) -> NodeSpec:
        node = self.document.node(node_id)
        if node is None:
            raise EditError(f"there is no node {node_id!r} in this flow")
        return node

    def group(self, group_id: str) -> ParallelGroup:
        group = next((g for g in self.document.parallel_groups if g.id == group_id), None)
        if group is None:
            raise EditError(f"there is no parallel group {group_id!r} in this flow")
        return group

    def group_of(self, node_id: str) -> ParallelGroup | None:
        return next((g for g in self.document.parallel_groups if node_id in g.nodes), None)

    def node_type(self, type_id: str) -> Any:
        return self.registry.get(type_id, self.tenant_id) if self.registry is not None else None

    # ---------- history ----------
    @contextmanager
    def _edit(self, key: Hashable | None = None) -> Iterator[None]:
        """Snapshot, run the edit, record it; an edit that raises leaves the document untouched."""
        before = self.document.dump()
        try:
            yield
        except EditError:
            self.document = FlowDocument.model_validate(before)
            raise
        except ValidationError as exc:
            self.document = FlowDocument.model_validate(before)
            raise EditError(_first_error(exc)) from None
        for name in ("nodes", "edges", "parallel_groups", "cache_strategy"):
            if getattr(self.document, name):  # edited in place: make sure export writes it
                self.document.__pydantic_fields_set__.add(name)
        if self.document.dump() == before:
            return  # nothing changed: no undo step, no re-render
        self.history.record(before, key)
        self.revision += 1

    def undo(self) -> bool:
        snapshot = self.history.undo(self.document.dump())
        return self._restore(snapshot)

    def redo(self) -> bool:
        snapshot = self.history.redo(self.document.dump())
        return self._restore(snapshot)

    def _restore(self, snapshot: Snapshot | None) -> bool:
        if snapshot is None:
            return False
        self.document = FlowDocument.model_validate(snapshot)
        self.revision += 1
        return True

    def seal(self) -> None:
        """The next edit starts a new undo step (call when a form field loses focus)."""
        self.history.seal()

    def replace_document(self, document: FlowDocument | dict[str, Any]) -> None:
        """Swap in a whole document (a restored version, the run pane's fix) as one undoable edit."""
        new = document if isinstance(document, FlowDocument) else FlowDocument.model_validate(document)
        with self._edit():
            self.document = FlowDocument.model_validate(new.dump())

    # ---------- nodes ----------
    def new_node_id(self, taken: Iterable[str] = ()) -> str:
        used = {n.id for n in self.document.nodes} | set(taken)
        numbers = [int(m.group(1)) for i in used if (m := re.fullmatch(r"node_(\d+)", i))]
        candidate = max(numbers, default=0) + 1
        while f"node_{candidate}" in used:
            candidate += 1
        return f"node_{candidate}"

    def add_node(
        self, type_id: str, x: float = 0, y: float = 0, *, label: str | None = None,
        config: dict[str, Any] | None = None, centred: bool = False,
    ) -> str:
        """Add a node of ``type_id`` at (x, y) (its centre when ``centred``); returns its id."""
        node_type = self.node_type(type_id)
        if self.registry is not None and node_type is None:
            raise EditError(f"unknown node type {type_id!r}")
        node_id = self.new_node_id()
        if centred:
            x, y = x - NEW_NODE_OFFSET[0], y - NEW_NODE_OFFSET[1]
        title = type_title(node_type) if node_type is not None else type_id
        fields: dict[str, Any] = {"id": node_id, "type": type_id, "label": label or title,
                                  "ui": {"x": round(x), "y": round(y)}}
        if config:
            fields["config"] = dict(config)
        with self._edit():
            self.document.nodes.append(NodeSpec.model_validate(fields))
        return node_id

    def move_nodes(self, moves: dict[str, tuple[float, float]]) -> None:
        """Set positions (one undo step for the whole gesture); unknown ids are ignored."""
        moves = {k: v for k, v in moves.items() if self.document.node(k) is not None}
        if not moves:
            return
        with self._edit():
            for node_id, (x, y) in moves.items():
                node = self.node(node_id)
                node.ui = {**(node.ui or {}), "x": round(x), "y": round(y)}

    def drop_nodes(self, moves: dict[str, tuple[float, float]], frame: str | None) -> bool:
        """A drag that ended: move the nodes and, in the same undo step, follow the frame they
        were dropped on: into that parallel group, or out of their group when dropped outside it.

        Moving every member of a group together moves the group: membership does not change.
        Returns True when a membership changed.
        """
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
        if not moves:
            return False
        with self._edit():
            for node_id, (x, y) in moves.items():
                node = self.node(node_id)
                node.ui = {**(node.ui or {}), "x": round(x), "y": round(y)}
            if changing:
                self._leave_groups(changing)
                if frame is not None:
                    group = self.group(frame)
                    group.nodes = [*group.nodes, *changing]
        return bool(changing)

    def position(self, node_id: str) -> tuple[float, float]:
        ui = self.node(node_id).ui or {}
        return float(ui.get("x", 0)), float(ui.get("y", 0))

    def set_label(self, node_id: str, label: str) -> None:
        with self._edit(("label", node_id)):
            node = self.node(node_id)
            if label.strip():
                node.label = label
            else:
                unset(node, "label")

    def set_config_value(self, node_id: str, name: str, value: Any = None, *, remove: bool = False) -> None:
        """Set one config field (``remove``: back to the type's default); typing in one field is one undo step."""
        with self._edit(("config", node_id, name)):
            node = self.node(node_id)
            config = dict(node.config)
            if remove:
                config.pop(name, None)
            else:
                config[name] = value
            node.config = config

    def set_config(self, node_id: str, config: dict[str, Any]) -> None:
        with self._edit():
            self.node(node_id).config = dict(config)

    def set_policy(
        self, node_id: str, *, timeout_s: Any = KEEP, retry: Any = KEEP, on_error: Any = KEEP, fallback: Any = KEEP,
    ) -> None:
        """Per-node policy; ``None`` removes a setting (the engine's default applies)."""
        changed = [k for k, v in (("timeout_s", timeout_s), ("retry", retry), ("on_error", on_error),
                                  ("fallback", fallback)) if v is not KEEP]
        with self._edit(("policy", node_id, tuple(changed))):
            node = self.node(node_id)
            for name, value in (("timeout_s", timeout_s), ("on_error", on_error), ("fallback", fallback)):
                if value is KEEP:
                    continue
                if value is None or (name == "on_error" and value == "fail"):
                    unset(node, name)
                else:
                    setattr(node, name, value)
            if retry is not KEEP:
                if retry is None:
                    unset(node, "retry")
                else:
                    node.retry = retry if isinstance(retry, RetryPolicy) else RetryPolicy.model_validate(retry)
            NodeSpec.model_validate(node.model_dump(exclude_unset=True))  # bounds checked like on load

    # ---------- cache ----------
    def cache_scope(self, node_id: str) -> str:
        """``"node"`` when the node has its own strategy, else ``"type"``."""
        return "node" if self.node(node_id).cache is not None else "type"

    def effective_cache(self, node_id: str) -> CacheStrategy | None:
        node = self.node(node_id)
        return node.cache or self.document.cache_strategy.get(node.type)

    def set_cache(self, node_id: str, strategy: CacheStrategy | dict[str, Any] | None, scope: str = "type") -> None:
        """Write the strategy for the node's type (every node of it) or only this node.

        With scope ``type`` the node's own override is removed; ``None`` clears the strategy.
        """
        if scope not in ("type", "node"):
            raise EditError(f"cache scope must be 'type' or 'node', not {scope!r}")
        with self._edit(("cache", node_id)):
            value = None if strategy is None else (
                strategy if isinstance(strategy, CacheStrategy) else CacheStrategy.model_validate(strategy))
            node = self.node(node_id)
            if scope == "node":
                if value is None:
                    unset(node, "cache")
                else:
                    node.cache = value
            else:
                unset(node, "cache")
                strategies = dict(self.document.cache_strategy)
                if value is None:
                    strategies.pop(node.type, None)
                else:
                    strategies[node.type] = value
                self.document.cache_strategy = strategies

    # ---------- edges ----------
    def connect(self, source: str, target: str, branch: str | None = None) -> str:
        """Add an edge; refuses self-loops, duplicates and cycles. Returns the canvas edge id."""
        self.node(source), self.node(target)
        if source == target:
            raise EditError("a node cannot be connected to itself")
        if any(e.source == source and e.target == target for e in self.document.edges):
            raise EditError(f"{source} is already connected to {target}")
        graph = FlowGraph.build(self.document)
        if graph.cycle is None and graph.is_ancestor(graph.index[target], graph.index[source]):
            raise EditError(f"connecting {source} to {target} would make a cycle ({target} already leads to {source})")
        edge = EdgeSpec(source=source, target=target, branch=branch) if branch else EdgeSpec(source=source, target=target)
        with self._edit():
            self.document.edges.append(edge)
        return edge_ref(edge)

    def edge_by_ref(self, ref: str) -> EdgeSpec | None:
        return next((e for e in self.document.edges if edge_ref(e) == ref), None)

    # ---------- delete ----------
    def delete(self, node_ids: Iterable[str] = (), edge_refs: Iterable[str] = ()) -> None:
        """Remove nodes (with their edges, group memberships and joins) and edges, as one step."""
        nodes, refs = set(node_ids), set(edge_refs)
        nodes &= {n.id for n in self.document.nodes}
        if not nodes and not any(edge_ref(e) in refs for e in self.document.edges):
            return
        with self._edit():
            doc = self.document
            doc.nodes = [n for n in doc.nodes if n.id not in nodes]
            doc.edges = [e for e in doc.edges
                         if e.source not in nodes and e.target not in nodes and edge_ref(e) not in refs]
            groups = []
            for group in doc.parallel_groups:
                group.nodes = [m for m in group.nodes if m not in nodes]
                if group.join_at in nodes:
                    unset(group, "join_at")
                if group.nodes:
                    groups.append(group)
            doc.parallel_groups = groups

    # ---------- parallel groups ----------
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
        changing = [n for n in members if (self.group_of(n).id if self.group_of(n) else None) != group_id]
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

    # ---------- flow ----------
    def set_flow(self, *, name: Any = KEEP, description: Any = KEEP, execution: Any = KEEP) -> None:
        with self._edit(("flow", name is not KEEP, description is not KEEP, execution is not KEEP)):
            doc = self.document
            if name is not KEEP:
                doc.name = name
            if description is not KEEP:
                doc.description = description
            if execution is not KEEP:
                settings = doc.settings.model_copy()
                settings.execution = execution
                doc.settings = settings

    def auto_layout(self) -> None:
        """Place every node left to right by dependency depth."""
        self.move_nodes({k: (float(x), float(y)) for k, (x, y) in layered_positions(self.document).items()})

    # ---------- copy and paste ----------
    def copy(self, node_ids: Iterable[str]) -> dict[str, Any] | None:
        """The nodes and the edges between them, in export form (a clipboard value)."""
        wanted = set(node_ids)
        nodes = [n.model_dump(mode="json", exclude_unset=True) for n in self.document.nodes if n.id in wanted]
        if not nodes:
            return None
        edges = [e.model_dump(mode="json", exclude_unset=True) for e in self.document.edges
                 if e.source in wanted and e.target in wanted]
        return {"akis_clipboard": 1, "nodes": nodes, "edges": edges}

    def paste(self, clipboard: dict[str, Any] | None, offset: tuple[float, float] = (40, 40)) -> list[str]:
        """Add copies with new ids, shifted by ``offset``; returns the new ids."""
        if not clipboard or not clipboard.get("nodes"):
            return []
        try:
            nodes = [NodeSpec.model_validate(n) for n in clipboard["nodes"]]
            edges = [EdgeSpec.model_validate(e) for e in clipboard.get("edges", [])]
        except (ValidationError, TypeError) as exc:
            raise EditError(f"the clipboard does not hold flow nodes: {exc}") from None
        mapping: dict[str, str] = {}
        for node in nodes:
            mapping[node.id] = self.new_node_id(mapping.values())
        with self._edit():
            for node in nodes:
                node.id = mapping[node.id]
                ui = dict(node.ui or {})
                ui["x"] = round(float(ui.get("x", 0)) + offset[0])
                ui["y"] = round(float(ui.get("y", 0)) + offset[1])
                node.ui = ui
                self.document.nodes.append(node)
            for edge in edges:
                if edge.source in mapping and edge.target in mapping:
                    edge.source, edge.target = mapping[edge.source], mapping[edge.target]
                    if edge.id:
                        unset(edge, "id")
                    self.document.edges.append(edge)
        return list(mapping.values())


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "value"
    return f"{where}: {err['msg']}"
