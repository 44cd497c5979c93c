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

from pydantic import ValidationError

from runtime.flow.graph import FlowGraph
from runtime.flow.model import CacheStrategy, EdgeSpec, FlowDocument, NodeSpec, ParallelGroup, RetryPolicy
from runtime.flow.names import NodeNames
from runtime.nodes.base import NodeType
from runtime.nodes.registry import NodeRegistry

from .clipboard import ClipboardEdits
from .common import KEEP, EditError, edge_ref, first_error, type_title, unset
from .groups import GroupEdits
from .history import History, Snapshot
from .layout import layered_positions
from .notes import NoteEdits, split_ids

NEW_NODE_OFFSET = (116, 32)  # a drop point is the node's centre; positions are its top-left corner

__all__ = ["KEEP", "EditError", "FlowDraft", "edge_ref", "type_title", "unset"]


class FlowDraft(GroupEdits, ClipboardEdits, NoteEdits):
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

    def node_type(self, type_id: str) -> NodeType | None:
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
            raise EditError(first_error(exc)) from None
        for name in ("nodes", "edges", "parallel_groups", "cache_strategy", "notes"):
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
            names = NodeNames(self.document)
            raise EditError(f"{names(source)} is already connected to {names(target)}")
        graph = FlowGraph.build(self.document)
        if graph.cycle is None and graph.is_ancestor(graph.index[target], graph.index[source]):
            names = NodeNames(self.document)
            raise EditError(f"connecting {names(source)} to {names(target)} would make a cycle "
                            f"({names(target)} already leads to {names(source)})")
        fields = {"source": source, "target": target, **({"branch": branch} if branch else {})}
        edge = EdgeSpec.model_validate(fields)  # only what is set is exported
        with self._edit():
            self.document.edges.append(edge)
            self._map_answer(source, target)
        return edge_ref(edge)

    def _map_answer(self, source: str, target: str) -> None:
        """An AI node wired into an Output that still echoes the user (a new flow's
        ``{"answer": "{{ user_message }}"}``): the Output answers with the AI's answer instead,
        in the same undo step as the connection."""
        output, node = self.node(target), self.node(source)
        output_type, source_type = self.node_type(output.type), self.node_type(node.type)
        if output_type is None or source_type is None or output_type.type_id != "output":
            return
        fields = output.config.get("fields")
        if not isinstance(fields, dict) or "answer" not in source_type.output_keys(node.config):
            return
        if re.fullmatch(r"\{\{\s*user_message\s*\}\}", str(fields.get("answer", "")).strip()):
            output.config = {**output.config, "fields": {**fields, "answer": "{{ answer }}"}}

    # ---------- delete ----------
    def delete(self, node_ids: Iterable[str] = (), edge_refs: Iterable[str] = ()) -> None:
        """Remove nodes (with their edges, group memberships and joins), sticky notes (canvas ids
        ``note:<id>`` among ``node_ids``) and edges, as one step."""
        node_list, notes = split_ids(node_ids)
        refs = set(edge_refs)
        nodes = set(node_list) & {n.id for n in self.document.nodes}
        if not nodes and not notes and not any(edge_ref(e) in refs for e in self.document.edges):
            return
        with self._edit():
            self._drop_notes(notes)
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
