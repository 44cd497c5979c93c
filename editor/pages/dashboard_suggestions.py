"""Optimisation suggestions on the dashboard: for the flow picked in the Flow filter (or the busiest
flows), the same suggestions the run pane offers. Apply opens the flow in the editor with the
change made as one unsaved, undoable edit (over the person's unsaved work, if any), and a banner
that says what was applied.

Suggestions read a few SQL aggregates per flow, so they are computed when the filters change or
on Refresh, not on every live tick.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from nicegui import app, ui

from editor.context import AkisContext
from editor.run_pane.data import node_stats
from editor.run_pane.suggestions_view import KIND_ICONS
from runtime.flow.model import FlowDocument
from runtime.suggestions import Suggestion, suggest

from ..charts.style import fmt_ms
from .dashboard_keys import READ_ERRORS
from .editor_session import draft_key, load_draft

log = logging.getLogger("akis.dashboard")
MAX_FLOWS = 3  # with "All flows": the busiest ones


class DashboardSuggestions(ui.card):
    def __init__(self, context: AkisContext) -> None:
        super().__init__()
        self.context = context
        self.key: tuple[str, tuple[str, ...]] | None = None
        self.classes("w-full q-pa-md gap-2").props("flat bordered data-testid=dash-suggestions")
        with self:
            with ui.row().classes("w-full items-center"):
                ui.label("Optimisation suggestions").classes("text-subtitle1 text-weight-medium")
                self.note = ui.label("").classes("text-caption text-grey-7")
                ui.space()
                ui.button(icon="refresh", on_click=self.refresh_now).props("flat round dense").tooltip(
                    "Compute the suggestions again")
            self.list = ui.column().classes("w-full gap-2")
        self._tenant: str = ""
        self._flows: tuple[str, ...] = ()

    async def show(self, tenant: str, flow_ids: list[str]) -> None:
        """Suggestions for these flows; computed again only when the tenant or the flows change."""
        key = (tenant, tuple(flow_ids[:MAX_FLOWS]))
        if key == self.key:
            return
        self.key = key
        self._tenant, self._flows = key
        await self.refresh_now()

    async def refresh_now(self) -> None:
        found: list[tuple[str, FlowDocument, int | None, Suggestion]] = []
        read = 0
        for flow_id in self._flows:
            try:
                stored = await self.context.flows.read(self._tenant, flow_id)
                read += 1
                stats = await node_stats(self.context, self._tenant, stored.document)
                for s in suggest(stored.document, stats, self.context.registry, self._tenant):
                    found.append((flow_id, stored.document, stored.version, s))
            except READ_ERRORS as exc:  # a flow deleted since its runs: skipped
                log.info("no suggestions for flow %s: %s", flow_id, exc)
            except Exception as exc:  # noqa: BLE001 - one flow's odd state must not take the dashboard
                log.warning("suggestions for flow %s failed: %s", flow_id, exc)
        if self.is_deleted:
            return
        self.note.set_text(f"for {', '.join(self._flows)}" if self._flows else "")
        self.list.clear()
        with self.list:
            if not found:
                ui.label("Nothing to suggest: these flows already run as fast as their structure allows." if read
                         else "No data yet: suggestions come from the runs of stored flows.").classes(
                    "text-caption").props("data-testid=dash-suggestions-none")
            for flow_id, document, version, suggestion in found:
                self._card(flow_id, document, version, suggestion)

    def _card(self, flow_id: str, document: FlowDocument, version: int | None, suggestion: Suggestion) -> None:
        with ui.card().classes("w-full q-pa-sm gap-1").props(
                f"flat bordered data-testid=dash-suggestion-{suggestion.kind}"):
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                ui.icon(KIND_ICONS.get(suggestion.kind, "lightbulb"), size="20px").classes("text-primary")
                ui.label(suggestion.title).classes("text-weight-medium")
                ui.badge(document.name or flow_id, color="grey-6").props("outline")
                ui.space()
                prefix = "up to " if suggestion.kind == "critical" else "~"
                ui.badge(f"{prefix}{fmt_ms(suggestion.saving_ms)} per run", color="green-7").props("outline")
            ui.label(suggestion.detail).classes("text-body2 text-grey-8")
            if suggestion.can_apply:
                ui.button("Apply in the editor", icon="open_in_new",
                          on_click=lambda: self.apply(flow_id, document, version, suggestion)).props(
                    f"dense no-caps unelevated color=primary data-testid=dash-apply-{suggestion.kind}")

    def apply(self, flow_id: str, document: FlowDocument, version: int | None, suggestion: Suggestion) -> None:
        """Hand the changed flow to the editor as unsaved work, then open it there."""
        applied = apply_for_editor(self._tenant, flow_id, version, suggestion, document)
        if applied is None:
            ui.notify(f"Could not apply '{suggestion.title}': the flow changed; open it and refresh the suggestions",
                      type="warning")
            return
        ui.navigate.to(f"/flows/{flow_id}")


def apply_for_editor(tenant: str, flow_id: str, version: int | None, suggestion: Suggestion,
                     saved: FlowDocument) -> FlowDocument | None:
    """Apply ``suggestion`` over this browser's unsaved work on the flow (else over ``saved``,
    the stored version) and keep the result as that work, with a note for the editor's banner.
    None when the suggestion no longer fits the flow."""
    kept = load_draft(tenant, flow_id)
    try:
        base = FlowDocument.model_validate(kept["document"]) if kept is not None else saved
        changed = suggestion.apply(base)
    except Exception as exc:  # noqa: BLE001 - a node renamed or removed meanwhile: said, nothing kept
        log.info("suggestion %r not applied to %s: %s", suggestion.title, flow_id, exc)
        return None
    app.storage.user[draft_key(tenant, flow_id)] = {
        "base_version": kept.get("base_version") if kept is not None else version, "document": changed.dump(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": f"Applied from the dashboard: {suggestion.title}. Review it on the canvas, then save (or undo).",
    }
    return changed
