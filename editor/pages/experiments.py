"""``/experiments`` (the tenant's A/B tests) and ``/experiments/{id}`` (one test's live results:
runs, latency, rates and the difference to the control with 95% intervals, the verdict and how
many more runs it needs, with Pause, Resume, Stop and Promote). Reached from the dashboard, the
header and a flow's versions panel; the page reads the same service as the API and the CLI."""
from __future__ import annotations

import logging

from nicegui import ui

from editor.auth import current_tenant, watch_page
from editor.charts.experiments import METRIC_NAMES, difference_figure, latency_figure, rates_figure, runs_figure
from editor.charts.style import fmt_ms
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.experiment_report import Analysis, VariantResult
from editor.services.experiment_stats import Interval
from editor.theme import apply_theme, header

from .versions import ago

log = logging.getLogger("akis.experiments")
REFRESH_S = 5.0
STATUS_COLORS = {"running": "positive", "paused": "warning", "draft": "grey", "stopped": "grey-7",
                 "promoted": "primary"}
VERDICT_COLORS = {"better": "positive", "worse": "negative", "not enough data": "grey-7",
                  "no significant difference": "grey-7", "control": "primary"}


def pct(value: Interval | None) -> str:
    if value is None:
        return "-"
    return f"{100 * value.estimate:.1f}% ({100 * value.low:.1f}–{100 * value.high:.1f})"


def difference_text(result: VariantResult, metric: str) -> str:
    comparison = result.comparisons.get(metric)
    if comparison is None or comparison.difference is None:
        return "-"
    d = comparison.difference
    if metric in ("error_rate", "positive_feedback"):
        return f"{100 * d.estimate:+.1f} pts ({100 * d.low:+.1f} to {100 * d.high:+.1f})"
    return f"{d.estimate:+.0f} ms ({d.low:+.0f} to {d.high:+.0f})"


def register(context: AkisContext) -> None:
    @ui.page("/experiments", title="Akis · Experiments")
    async def experiments_page() -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Experiments")
        await ExperimentList(context, tenant).build()

    @ui.page("/experiments/{experiment_id}", title="Akis · Experiment")
    async def experiment_page(experiment_id: str) -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Experiments")
        view = ExperimentView(context, tenant, experiment_id)
        await view.refresh()
        ui.timer(REFRESH_S, view.refresh)


class ExperimentList(ui.column):
    def __init__(self, context: AkisContext, tenant: str) -> None:
        super().__init__()
        self.context, self.tenant = context, tenant
        self.classes("w-full max-w-5xl mx-auto px-6 py-8 gap-3").props("data-testid=experiments")

    async def build(self) -> None:
        with self:
            ui.label("Experiments").classes("text-2xl font-semibold")
            ui.label("A/B tests of flow versions. Start one from a flow's Versions panel.").classes("akis-muted")
            try:
                experiments = await self.context.experiments.list_experiments(self.tenant)
            except DATABASE_ERRORS as exc:
                ui.label(f"The experiments cannot be read right now: {exc}").classes("text-red-600")
                return
            if not experiments:
                ui.label("No experiments yet.").classes("akis-muted").props("data-testid=no-experiments")
            for e in experiments:
                with ui.card().props(f"flat bordered data-testid=experiment-{e.id}").classes("w-full p-3"), \
                        ui.row().classes("w-full items-center gap-3 no-wrap"):
                    ui.badge(e.status, color=STATUS_COLORS.get(e.status, "grey"))
                    with ui.column().classes("gap-0 grow min-w-0"):
                        ui.link(e.name, f"/experiments/{e.id}").classes("text-base font-semibold")
                        arms = ", ".join(f"{v.name} v{v.version} {v.weight}%" for v in e.variants)
                        ui.label(f"flow {e.flow_id} · {arms} · created {ago(e.created_at)}").classes(
                            "text-xs akis-muted")


class ExperimentView(ui.column):
    """One experiment, re-read every few seconds while the page is open."""

    def __init__(self, context: AkisContext, tenant: str, experiment_id: str) -> None:
        super().__init__()
        self.context, self.tenant, self.experiment_id = context, tenant, experiment_id
        self.classes("w-full max-w-6xl mx-auto px-6 py-6 gap-3").props("data-testid=experiment")
        self.analysis: Analysis | None = None
        self._plots: list[ui.plotly] = []
        self._status: tuple[str, str | None] | None = None
        self._verdict_box: ui.column | None = None
        self._table: ui.table | None = None

    async def refresh(self) -> None:
        try:
            self.analysis = await self.context.experiments.analysis(self.tenant, self.experiment_id)
        except ServiceError as exc:
            self._message(exc.detail)
            return
        except DATABASE_ERRORS as exc:
            log.warning("experiment %s not read: %s", self.experiment_id, exc)
            self._message(f"The experiment cannot be read right now: {exc}")
            return
        self._render(self.analysis)

    def _message(self, text: str) -> None:
        self.clear()
        self._plots = []
        self._status = None
        with self:
            ui.label(text).classes("text-red-600").props("data-testid=experiment-error")

    def _figures(self, analysis: Analysis) -> list[dict[str, object]]:
        e = analysis.experiment
        return [runs_figure(analysis.variants, e.min_runs), difference_figure(analysis.variants, e.primary_metric),
                latency_figure(analysis.variants), rates_figure(analysis.variants)]

    def _render(self, analysis: Analysis) -> None:
        """The first time: the whole page. Then only what changed, in place: the charts keep their
        elements (a re-created Plotly chart would flicker and lose its zoom)."""
        e = analysis.experiment
        status = (e.status, e.winner)
        if self._plots and self._status == status and self._table is not None and self._verdict_box is not None:
            self._table.rows = self._rows(analysis)
            self._table.update()
            self._verdict_box.clear()
            with self._verdict_box:
                self._verdict(analysis)
            for plot, figure in zip(self._plots, self._figures(analysis), strict=True):
                plot.figure = figure
                plot.update()
            return
        self._status = status
        metric = e.primary_metric
        self.clear()
        with self:
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(e.name).classes("text-2xl font-semibold")
                ui.badge(e.status, color=STATUS_COLORS.get(e.status, "grey")).props("data-testid=experiment-status")
                ui.space()
                self._actions(analysis)
            ui.label(f"Flow {e.flow_id} · primary metric: {METRIC_NAMES.get(metric, metric)} · planned "
                     f"{e.min_runs} per variant · 95% intervals").classes("text-sm akis-muted")
            self._verdict_box = ui.column().classes("w-full")
            with self._verdict_box:
                self._verdict(analysis)
            self._table = self._make_table(analysis)
            figures = self._figures(analysis)
            self._plots = []
            for pair in (figures[:2], figures[2:]):
                with ui.row().classes("w-full no-wrap gap-3"):
                    self._plots += [ui.plotly(figure).classes("w-1/2") for figure in pair]

    def _verdict(self, analysis: Analysis) -> None:
        e = analysis.experiment
        if e.status == "promoted":
            text, color = f"Promoted {e.winner}: its version is the flow's current one.", "bg-blue-1"
        elif analysis.winner is not None:
            text, color = f"{analysis.winner} is better on {METRIC_NAMES[e.primary_metric].lower()}.", "bg-green-1"
        elif analysis.ready:
            text, color = "No variant is significantly better at the planned sample.", "bg-grey-2"
        else:
            text, color = "Not enough data yet to call a winner.", "bg-amber-1"
        with ui.card().props("flat bordered data-testid=verdict").classes(f"w-full p-3 gap-1 {color} text-black"):
            ui.label(text).classes("text-base font-semibold")
            for note in analysis.notes:
                ui.label(note).classes("text-sm").props("data-testid=note")

    def _make_table(self, analysis: Analysis) -> ui.table:
        columns = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in (
            ("name", "Variant"), ("version", "Version"), ("weight", "Weight"), ("runs", "Runs"),
            ("sessions", "Sessions"), ("first_chunk", "First chunk p50 / p95"), ("total", "Total p50 / p95"),
            ("errors", "Error rate (95% CI)"), ("tokens", "Tokens/run"), ("cache", "Cache hits"),
            ("feedback", "Positive feedback"), ("difference", "vs control (95% CI)"), ("verdict", "Verdict"),
            ("more", "Runs still needed"))]
        return ui.table(columns=columns, rows=self._rows(analysis), row_key="name").props(
            "flat bordered dense wrap-cells data-testid=variants").classes("w-full")

    @staticmethod
    def _rows(analysis: Analysis) -> list[dict[str, object]]:
        metric = analysis.experiment.primary_metric
        return [{
            "name": r.name, "version": f"{r.flow_id} v{r.version}", "weight": f"{r.weight}%", "runs": r.runs,
            "sessions": r.sessions, "first_chunk": f"{fmt_ms(r.first_chunk_p50)} / {fmt_ms(r.first_chunk_p95)}",
            "total": f"{fmt_ms(r.duration_p50)} / {fmt_ms(r.duration_p95)}", "errors": pct(r.error_rate),
            "tokens": f"{r.tokens_per_run:.0f}" if r.tokens_per_run is not None else "-",
            "cache": pct(r.cache_hit_rate), "feedback": f"{pct(r.positive_feedback)} of {r.feedback_count}",
            "difference": "-" if r.is_control else difference_text(r, metric), "verdict": r.verdict,
            "more": r.more_needed} for r in analysis.variants]

    def _actions(self, analysis: Analysis) -> None:
        e = analysis.experiment
        if e.status in ("draft", "paused"):
            ui.button("Start" if e.status == "draft" else "Resume", icon="play_arrow",
                      on_click=lambda: self._act("start")).props("unelevated no-caps data-testid=start")
        if e.status == "running":
            ui.button("Pause", icon="pause", on_click=lambda: self._act("pause")).props(
                "outline no-caps data-testid=pause")
        if e.status not in ("stopped", "promoted"):
            ui.button("Weights…", icon="tune", on_click=self._weights_dialog).props(
                "outline no-caps data-testid=weights")
            ui.button("Stop", icon="stop", on_click=lambda: self._act("stop")).props(
                "outline no-caps color=negative data-testid=stop")
            ui.button("Promote…", icon="emoji_events", on_click=self._promote_dialog).props(
                "unelevated no-caps data-testid=promote")

    async def _act(self, action: str) -> None:
        service = self.context.experiments
        calls = {"start": service.start, "pause": service.pause, "stop": service.stop}
        try:
            await calls[action](self.tenant, self.experiment_id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="warning")
        await self.refresh()

    def _weights_dialog(self) -> None:
        """New weights for new conversations; those already assigned keep their variant."""
        assert self.analysis is not None
        arms = self.analysis.experiment.variants
        with ui.dialog() as dialog, ui.card().classes("w-[420px]").props("data-testid=weights-dialog"):
            ui.label("Change the weights").classes("text-lg font-semibold")
            ui.label("New conversations follow them; a conversation already in a variant keeps it.").classes(
                "text-sm")
            inputs = {v.name: ui.number(f"{v.name} (v{v.version}) %", value=v.weight, min=0, max=100, step=1,
                                        format="%d").props(f"outlined dense data-testid=weight-{v.name}")
                      for v in arms}
            error = ui.label().classes("text-sm text-red-600").props("data-testid=weights-error")

            async def save() -> None:
                weights = {name: int(field.value or 0) for name, field in inputs.items()}
                try:
                    await self.context.experiments.set_weights(self.tenant, self.experiment_id, weights)
                except ServiceError as exc:
                    error.text = exc.detail
                    return
                dialog.close()
                await self.refresh()

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Save", on_click=save).props("unelevated no-caps data-testid=weights-save")
        dialog.open()

    def _promote_dialog(self) -> None:
        assert self.analysis is not None
        analysis = self.analysis
        options = {v.name: f"{v.name} ({v.flow_id} v{v.version}) · {v.verdict}" for v in analysis.variants}
        with ui.dialog() as dialog, ui.card().classes("w-[520px]").props("data-testid=promote-dialog"):
            ui.label("Promote a variant").classes("text-lg font-semibold")
            ui.label("Its version becomes the flow's current one and the experiment ends.").classes("text-sm")
            if analysis.winner is None:
                ui.label("No variant has been shown better yet: promoting now is a judgement call, not a "
                         "result.").classes("text-sm text-orange-8").props("data-testid=promote-warning")
            choice = ui.select(options, value=analysis.winner or analysis.variants[0].name, label="Variant").props(
                "outlined dense data-testid=promote-choice").classes("w-full")

            async def promote() -> None:
                try:
                    await self.context.experiments.promote(self.tenant, self.experiment_id, str(choice.value))
                except ServiceError as exc:
                    ui.notify(exc.detail, type="warning")
                    return
                dialog.close()
                ui.notify(f"Promoted {choice.value}")
                await self.refresh()

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Promote", on_click=promote).props("unelevated no-caps data-testid=promote-confirm")
        dialog.open()
