"""Copy and paste of nodes (with the edges between them) for a FlowDraft.

The clipboard value is JSON (export form), so the page can keep it in browser storage and paste
into another flow.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runtime.flow.model import EdgeSpec, NodeSpec

from .common import EditError, unset

if TYPE_CHECKING:
    from runtime.flow.model import FlowDocument


class ClipboardEdits:
    """Mixed into FlowDraft, which provides ``document``, ``new_node_id`` and ``_edit``."""

    if TYPE_CHECKING:
        document: FlowDocument

        def _edit(self, key: Hashable | None = None) -> AbstractContextManager[None]: ...
        def new_node_id(self, taken: Iterable[str] = ()) -> str: ...

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


