"""The dashboard's "Slowest recent runs" table: where to start reading traces.

The percentiles say which node types are slow; the slowest runs, each with its trace id (a link
with ``AKIS_TRACE_URL``), say which executions to open. At most ``storage.repos.dashboard.SLOWEST``
rows, read with the rest of the dashboard (same tenant, flow filter and range); the table is only
rebuilt when its rows change, so a live refresh with nothing new sends nothing.
"""
from __future__ import annotations

from typing import Any

from nicegui import ui

from editor.charts.style import fmt_ms
from editor.trace_link import trace_id_view
from runtime.settings import AkisSettings
from storage.models import Run

STATUS_CLASSES = {"succeeded": "text-positive", "failed": "text-negative", "cancelled": "text-grey-7"}
HEADERS = ("Flow", "Started (UTC)", "Duration", "Status", "Trace")


class SlowestRuns(ui.card):
    def __init__(self, settings: AkisSettings) -> None:
        super().__init__()
        self.settings = settings
        self._shown: list[tuple[Any, ...]] | None = None
        self.classes("w-full q-pa-sm").props("flat bordered data-testid=slowest-runs").mark("slowest-runs")
        with self:
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("Slowest recent runs").classes("text-subtitle1 text-weight-medium")
                hint = "open a trace to see where the time went" if settings.trace_url else (
                    "set AKIS_TRACE_URL to link each trace id to your tracing UI")
                ui.label(hint).classes("text-caption text-grey-7")
            self.body = ui.column().classes("w-full gap-0")

    def show(self, runs: list[Run]) -> None:
        """The runs, slowest first, as the dashboard query returned them."""
        rows = [(r.id, r.flow_id, r.started_at, r.duration_ms, r.status, r.trace_id) for r in runs]
        if rows == self._shown:
            return
        self._shown = rows
        self.body.clear()
        with self.body:
            if not rows:
                ui.label("No finished run in this range.").classes("text-body2 text-grey-7").mark("slowest-empty")
                return
            with ui.element("q-markup-table").props("flat dense wrap-cells").classes("w-full"):
                with ui.element("thead"), ui.element("tr"):
                    for header in HEADERS:
                        with ui.element("th").classes("text-left"):
                            ui.label(header)
                with ui.element("tbody"):
                    for run in runs:
                        self._row(run)

    def _row(self, run: Run) -> None:
        with ui.element("tr").props(f"data-testid=slow-run-{run.id}").mark(f"slow-run-{run.id}"):
            with ui.element("td"):
                ui.label(run.flow_id).props(f'title="run {run.id}"')
            with ui.element("td"):
                ui.label(f"{run.started_at:%Y-%m-%d %H:%M:%S}")
            with ui.element("td"):
                ui.label(fmt_ms(run.duration_ms)).classes("text-weight-medium")
            with ui.element("td"):
                ui.label(run.status).classes(STATUS_CLASSES.get(run.status, ""))
            with ui.element("td"):
                trace_id_view(run.trace_id, self.settings, f"slow-trace-{run.id}")
