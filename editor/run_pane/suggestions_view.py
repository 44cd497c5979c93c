"""The optimisation suggestions for the flow on the canvas, each with its estimated saving and
an Apply button that hands the changed flow to the editor as a new, unsaved edit."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from editor.canvas import FlowCanvas
from editor.context import AkisContext
from runtime.flow.model import FlowDocument
from runtime.suggestions import Suggestion, suggest

from ..charts.style import fmt_ms
from .data import node_stats
from .marks import tag

KIND_ICONS = {"parallel": "call_split", "rewire": "alt_route", "add_cache": "bolt", "low_hit_rate": "bolt",
              "critical": "timeline"}


class SuggestionsView(ui.column):
    def __init__(self, context: AkisContext, tenant: Callable[[], str], flow_provider: Callable[[], FlowDocument],
                 on_apply: Callable[[FlowDocument], None] | None, canvas: FlowCanvas | None = None) -> None:
        super().__init__()
        self.context, self.tenant, self.flow_provider = context, tenant, flow_provider
        self.on_apply, self.canvas = on_apply, canvas
        self.suggestions: list[Suggestion] = []
        self.classes("w-full gap-2")
        with self:
            with ui.row().classes("w-full items-center"):
                ui.label("Optimisation suggestions").classes("text-weight-medium")
                ui.space()
                tag(ui.button(icon="refresh", on_click=self.refresh), "suggestions-refresh").props("flat dense round")
            self.note = ui.label("").classes("text-caption text-grey-7")
            self.list = ui.column().classes("w-full gap-2")

    async def refresh(self) -> None:
        self.set_visibility(True)
        document = self.flow_provider()
        tenant = self.tenant()
        try:
            stats = await node_stats(self.context, tenant, document)
            self.suggestions = suggest(document, stats, self.context.registry, tenant)
        except Exception as exc:  # noqa: BLE001 - the draft may be half-built: say so, keep the pane
            self.note.set_text(f"Suggestions could not be computed: {exc}")
            self.suggestions = []
            self.list.clear()
            return
        runs = max((s.count for s in stats.values()), default=0)
        self.note.set_text(f"From {runs} measured run(s) of the last 7 days." if runs else
                           "No measured runs yet: run the flow a few times, then refresh.")
        self.list.clear()
        with self.list:
            if not self.suggestions:
                text = "Nothing to suggest: the flow already runs as fast as its structure allows." if runs else ""
                tag(ui.label(text), "suggestions-none").classes("text-caption")
            for position, suggestion in enumerate(self.suggestions):
                self._card(position, suggestion)

    def _card(self, position: int, suggestion: Suggestion) -> None:
        with tag(ui.card(), f"suggestion-{suggestion.kind}").classes("w-full q-pa-sm gap-1").props(
                f"flat bordered data-position={position}"):
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                ui.icon(KIND_ICONS.get(suggestion.kind, "lightbulb"), size="20px").classes("text-primary")
                ui.label(suggestion.title).classes("text-weight-medium")
                ui.space()
                prefix = "up to " if suggestion.kind == "critical" else "~"
                ui.badge(f"{prefix}{fmt_ms(suggestion.saving_ms)} per run", color="green-7").props("outline")
            ui.label(suggestion.detail).classes("text-body2 text-grey-8")
            with ui.row().classes("gap-2"):
                if suggestion.can_apply:
                    apply = tag(ui.button("Apply", icon="check", on_click=lambda s=suggestion: self.apply(s)),
                                f"apply-{suggestion.kind}").props("dense no-caps unelevated color=primary")
                    apply.set_enabled(self.on_apply is not None)
                if self.canvas is not None and suggestion.node_ids:
                    ui.button("Show", icon="center_focus_strong",
                              on_click=lambda s=suggestion: self.canvas.select_nodes(s.node_ids)).props(
                        "dense no-caps flat")

    async def apply(self, suggestion: Suggestion) -> None:
        if self.on_apply is None:
            return
        try:
            changed = suggestion.apply(self.flow_provider())
        except Exception as exc:  # noqa: BLE001 - the flow is left as it was and the person told why
            ui.notify(f"Could not apply '{suggestion.title}': {exc}", type="negative")
            return
        self.on_apply(changed)
        ui.notify(f"Applied: {suggestion.title}. Review it on the canvas and save.", type="positive")
        await self.refresh()
