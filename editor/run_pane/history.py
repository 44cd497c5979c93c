"""Run history for the flow: recent runs with status and duration; opening one shows its
timeline (from this session's events, else rebuilt from its stored metric rows) and output.

``tenant`` is the run pane's :meth:`~editor.run_pane.pane.RunPane.tenant`: the signed-in user's
tenant from the session (no element of the page holds it), so the list and the runs it opens
are that tenant's only; a run is opened from the list read here, never from an id the page sends."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS
from editor.services.node_runs import NODE_MARK
from runtime.flow.model import FlowDocument
from storage.models import Run

from ..charts.style import fmt_ms
from ..charts.timeline import BAR_CLICK_JS, timeline_figure
from ..trace_link import trace_id_view
from .add_case import add_case_menu
from .data import recent_runs, stored_timeline
from .inspect_view import NodeInspection, RunFrom, RunNode
from .live import LiveRun
from .marks import fixed, fixed_plot, tag
from .pins import DraftPins

STATUS_ICONS = {"succeeded": ("check_circle", "text-positive"), "failed": ("error", "text-negative"),
                "cancelled": ("block", "text-grey-7"), "running": ("sync", "text-warning")}


class HistoryView(ui.column):
    """``on_select``: a node picked in a run's node list or timeline (the pane selects it on the
    canvas); ``run_node`` / ``run_from``: the pane's one-node runs, offered for a past run's node;
    ``pins``: the draft's pinned inputs, shown and kept for a past run's node as in the Test run tab."""

    def __init__(self, context: AkisContext, tenant: Callable[[], str], flow_provider: Callable[[], FlowDocument],
                 recent: Callable[[str], LiveRun | None], *, on_select: Callable[[str], None] | None = None,
                 run_node: RunNode | None = None, run_from: RunFrom | None = None,
                 pins: DraftPins | None = None) -> None:
        super().__init__()
        self.context, self.tenant, self.flow_provider, self.recent = context, tenant, flow_provider, recent
        self.on_select, self.run_node, self.run_from, self.pins = on_select, run_node, run_from, pins
        self.classes("w-full gap-1")
        self.runs: list[Run] = []
        self.dialog: ui.dialog | None = None
        self._opening = asyncio.Lock()  # quick clicks on rows open their runs one after the other
        with self:
            with ui.row().classes("w-full items-center"):
                ui.label("Recent runs of this flow").classes("text-weight-medium")
                ui.space()
                tag(ui.button(icon="refresh", on_click=self.refresh), "history-refresh").props("flat dense round")
            self.list = ui.list().props("bordered separator dense").classes("w-full")

    async def refresh(self) -> None:
        flow_id = str(self.flow_provider().flow_id)
        try:
            self.runs = await recent_runs(self.context, self.tenant(), flow_id)
        except DATABASE_ERRORS as exc:
            self.list.clear()
            with self.list:
                ui.item(f"Runs could not be read: {exc}")
            return
        self.list.clear()
        with self.list:
            if not self.runs:
                tag(ui.item("No run recorded yet: press Run."), "history-empty")
            for run in self.runs:
                self._item(run)

    def _item(self, run: Run) -> None:
        icon, color = STATUS_ICONS.get(run.status, ("help", "text-grey-7"))
        message = str((run.inputs or {}).get("user_message", ""))
        with tag(ui.item(on_click=lambda r=run: self.open(r)), f"history-run-{run.id}"):
            with ui.item_section().props("avatar"):
                ui.icon(icon).classes(color)
            with ui.item_section():
                ui.item_label(message[:80] or run.id).classes("ellipsis")
                alone = (run.inputs or {}).get(NODE_MARK)  # a one-node run (Run this node)
                ui.item_label(f"{run.started_at:%Y-%m-%d %H:%M:%S} · session {run.session_id}"
                              + (f" · evaluation {run.evaluation_id}" if run.evaluation_id else "")
                              + (f" · node {alone} alone" if alone else "")).props("caption")
                trace_id_view(run.trace_id, self.context.settings, f"history-trace-{run.id}", stop_clicks=True)
            with ui.item_section().props("side"):
                ui.item_label(fmt_ms(run.duration_ms))
                ui.item_label(run.status).props("caption")

    async def open(self, run: Run) -> None:
        """The run's dialog (timeline, nodes, output); one at a time, the last one clicked stays."""
        async with self._opening:  # two opens at once deleted the same previous dialog twice
            await self._open(run)

    async def _open(self, run: Run) -> None:
        document = self.flow_provider()
        live = self.recent(run.id)
        if live is not None:
            bars, critical = live.bars(), live.critical_path()
            first_chunk, result_ms = live.report.first_chunk_ms, live.report.result_ms
        else:
            stored = await stored_timeline(self.context, self.tenant(), run, document)
            bars, critical = stored.bars, stored.critical
            first_chunk, result_ms = run.first_chunk_ms, run.duration_ms
        title = f"Run {run.id[:8]} · {run.status} · {fmt_ms(run.duration_ms)}"

        def figure(selected: str | None = None) -> dict[str, Any]:
            return timeline_figure(bars, critical=critical, first_chunk_ms=first_chunk, result_ms=result_ms,
                                   title=title, selected=selected)

        if self.dialog is not None:
            self.dialog.delete()  # one run open at a time
        with self, tag(ui.dialog(), "history-dialog") as dialog, ui.card().classes("w-full").style("max-width: 900px"):
            plot = tag(fixed_plot(figure()), "history-timeline").classes("w-full")
            inspection = NodeInspection(self.context, self.tenant, self.flow_provider, pins=self.pins,
                                        on_select=lambda node_id: self._picked(plot, figure, node_id),
                                        run_node=self._closing(dialog, self.run_node),
                                        run_from=self._closing(dialog, self.run_from))

            async def bar_clicked(e: Any) -> None:
                node_id = str(e.args or "").partition("/")[0]
                if node_id and await inspection.select(node_id):
                    self._picked(plot, figure, node_id)

            plot.on("plotly_click", bar_clicked, js_handler=BAR_CLICK_JS)
            trace_id_view(run.trace_id, self.context.settings, "history-dialog-trace")
            await add_case_menu(self.context, self.tenant, run)  # one click: this run as an evaluation case
            if run.error:
                ui.label(run.error).classes("text-negative").style("white-space: pre-wrap")
            ui.label("Output").classes("text-weight-medium")
            ui.code(json.dumps(run.output or {}, indent=2, ensure_ascii=False), language="json").classes("w-full")
            ui.label("Inputs").classes("text-weight-medium")
            ui.code(json.dumps(run.inputs or {}, indent=2, ensure_ascii=False), language="json").classes("w-full")
            ui.button("Close", on_click=dialog.close).props("flat")
        self.dialog = dialog
        dialog.open()
        await inspection.load(run.id)

    def _picked(self, plot: ui.plotly, figure: Callable[[str | None], dict[str, Any]], node_id: str) -> None:
        plot.update_figure(fixed(figure(node_id)))
        if self.on_select is not None:
            self.on_select(node_id)

    @staticmethod
    def _closing(dialog: ui.dialog, action: RunNode | None) -> RunNode | None:
        """``action`` run after closing the dialog: its run shows in the Test run tab."""
        if action is None:
            return None

        async def run(node_id: str, value: str) -> None:
            dialog.close()
            await action(node_id, value)
        return run
