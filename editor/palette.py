"""The palette: node types grouped by category, searchable, dragged onto the canvas.

A drag carries the type id in the ``application/akis-node-type`` data slot that the canvas reads
on drop; a click adds the node next to the flow instead (for keyboards and touch screens). The
list holds the tenant's own plugin types too, marked "plugin".
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from .graph.notes import NOTE_TYPE
from .theme import CATEGORY_LABELS, CATEGORY_ORDER, category_color

DRAG_TYPE = "application/akis-node-type"
STICKY_NOTE: dict[str, Any] = {  # not a node type: the editor adds a note to the canvas (editor.graph.notes)
    "type": NOTE_TYPE, "title": "Sticky note", "category": "other", "icon": "sticky_note_2", "color": "#eab308",
    "description": "Markdown on the canvas for the people reading the flow; runs ignore it.",
    "keywords": "comment annotation text markdown",
}
# Words people search with that the types' own titles do not hold ("llm" for the AI response).
CATEGORY_KEYWORDS: dict[str, str] = {
    "ai": "llm gpt claude openai anthropic model prompt chat completion",
    "logic": "if branch switch router",
    "integration": "api http webhook request",
}


def palette_entries(types: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``describe()`` dicts grouped by category in the palette's order, titles sorted."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in types:
        category = str(entry["category"]) if entry.get("category") in CATEGORY_LABELS else "other"
        groups.setdefault(category, []).append(entry)
    return [(c, sorted(groups[c], key=lambda e: e["title"].lower())) for c in CATEGORY_ORDER if c in groups]


def matches(entry: dict[str, Any], query: str) -> bool:
    words = query.casefold().split()
    text = " ".join(str(entry.get(k, "")) for k in ("type", "title", "description", "category")).casefold()
    text += f" {CATEGORY_KEYWORDS.get(str(entry.get('category', '')), '')} {entry.get('keywords', '')}"
    return all(w in text for w in words)


class Palette(ui.column):
    """Node types to drag onto the canvas; ``on_add(type_id)`` runs when one is clicked."""

    def __init__(self, types: list[dict[str, Any]], on_add: Callable[[str], Any]) -> None:
        super().__init__()
        self.classes("gap-1 w-full no-wrap")
        self._items: list[tuple[dict[str, Any], ui.element]] = []
        self._headers: list[tuple[ui.element, list[ui.element]]] = []
        with self:
            self.search = ui.input(placeholder="Search nodes", on_change=lambda e: self.filter(e.value or "")).props(
                "dense outlined clearable data-testid=palette-search").classes("w-full mb-1")
            with self.search.add_slot("prepend"):
                ui.icon("search").classes("text-lg")
            for category, entries in palette_entries(types):
                header = ui.label(CATEGORY_LABELS[category]).classes(
                    "text-xs font-semibold uppercase tracking-wide akis-muted mt-2")
                members = [self._item(entry, on_add) for entry in entries]
                self._headers.append((header, members))
            header = ui.label("Annotations").classes("text-xs font-semibold uppercase tracking-wide akis-muted mt-2")
            self._headers.append((header, [self._item(STICKY_NOTE, on_add)]))
            self.empty = ui.label("No node type matches.").classes("text-sm akis-muted")
            self.empty.visible = False

    def _item(self, entry: dict[str, Any], on_add: Callable[[str], Any]) -> ui.element:
        type_id = entry["type"]
        color = entry.get("color") or category_color(entry.get("category", "other"))
        item = ui.element("div").classes("akis-palette-item row items-center no-wrap gap-2 px-2 py-1 w-full")
        item.style(f"--akis-cat: {color}")
        item.props(f'draggable=true data-type="{type_id}" data-testid="palette-{type_id}"')
        item.on("dragstart", js_handler=(
            f"(e) => {{ e.dataTransfer.setData('{DRAG_TYPE}', {json.dumps(type_id)}); "
            "e.dataTransfer.effectAllowed = 'copy'; }"))
        item.on("click", lambda _, t=type_id: on_add(t))
        with item:
            with ui.element("div").classes("akis-cat-dot"):
                ui.icon(entry.get("icon") or "extension").classes("text-base")
            with ui.column().classes("gap-0 min-w-0 grow").style("overflow: hidden"):
                with ui.row().classes("items-center gap-1 no-wrap"):
                    ui.label(entry["title"]).classes("text-sm font-medium ellipsis")
                    if entry.get("tenant_id"):
                        ui.badge("plugin", color="grey-6").props("outline dense")
                if entry.get("description"):
                    ui.label(entry["description"]).classes("text-xs akis-muted ellipsis").style("max-width: 100%")
        if entry.get("description"):
            item.tooltip(entry["description"])
        self._items.append((entry, item))
        return item

    def filter(self, query: str) -> int:
        """Show only the types matching every word of ``query``; returns how many are shown."""
        shown = 0
        for header, members in self._headers:
            visible = 0
            for entry, item in self._items:
                if item in members:
                    item.visible = matches(entry, query)
                    visible += item.visible
            header.visible = visible > 0
            shown += visible
        self.empty.visible = shown == 0
        return shown
