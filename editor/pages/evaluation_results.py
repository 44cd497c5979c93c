"""One evaluation's results: progress while it runs, then per version the pass rate, each
scorer's mean, latency p50/p95 and tokens (a table and Plotly charts), and the cases side by
side across versions with their answers, scores, a diff against the baseline and a link to
each case's run (the flow editor opened on it, :mod:`.run_link`); "only changed" narrows the table to
the cases whose answer or verdict changed."""
from __future__ import annotations

import difflib
import html
import json

from nicegui import ui

from editor.charts.evaluations import latency_figure, scores_figure, tokens_figure
from editor.charts.style import fmt_ms
from editor.context import AkisContext
from editor.desktop.files import native_dialogs, save_file
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.evaluations import CaseRow, EvaluationReport
from storage.tables.evaluations import EvalResult

from .run_link import run_url

REFRESH_S = 1.0
FULL_EVERY = 5  # ticks between two reads of the whole report while it runs
MAX_ROWS = 200  # cases drawn at once; the API and the CLI give them all


def word_diff(before: str, after: str) -> str:
    """HTML of ``after`` against ``before`` word by word: removed words struck red, added green."""
    old, new = before.split(" "), after.split(" ")
    parts = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(html.escape(" ".join(old[a1:a2])))
            continue
        if a2 > a1:
            parts.append(f'<del class="akis-del">{html.escape(" ".join(old[a1:a2]))}</del>')
        if b2 > b1:
            parts.append(f'<ins class="akis-ins">{html.escape(" ".join(new[b1:b2]))}</ins>')
    return " ".join(parts)


DIFF_CSS = """
.akis-del { color: #dc2626; text-decoration: line-through; background: rgba(220,38,38,.08); }
.akis-ins { color: #16a34a; text-decoration: none; background: rgba(22,163,74,.10); }
.akis-answer { white-space: pre-wrap; font-size: 13px; }
"""


class EvaluationView(ui.column):
    def __init__(self, context: AkisContext, tenant: str, evaluation_id: str) -> None:
        super().__init__()
        self.context, self.tenant, self.evaluation_id = context, tenant, evaluation_id
        self.report: EvaluationReport | None = None
        self.ticks = 0
        self.classes("w-full gap-3 q-pa-md").props("data-testid=evaluation")
        ui.add_css(DIFF_CSS)
        with self:
            self.head = ui.column().classes("w-full gap-1")
            self.summary = ui.column().classes("w-full gap-2")
            with ui.row().classes("w-full items-center gap-3"):
                ui.label("Cases").classes("text-h6")
                self.only_changed = ui.switch("Only cases that changed", on_change=self._draw_cases).props(
                    "data-testid=only-changed")
            self.cases = ui.column().classes("w-full gap-1").props("data-testid=eval-cases")
        self.timer = ui.timer(REFRESH_S, self.refresh, active=False)

    async def refresh(self) -> None:
        """While it runs: the progress every second, the whole report every ``FULL_EVERY`` ticks;
        once it ended, the whole report once (so open cases stay open)."""
        self.ticks += 1
        if self.report is not None and self.report.evaluation.status == "running" and self.ticks % FULL_EVERY:
            try:
                evaluation = await self.context.evaluations.get(self.tenant, self.evaluation_id)
            except ServiceError:
                evaluation = None  # the whole report, read below, says what is wrong
            except DATABASE_ERRORS:
                return  # the next tick tries again
            if evaluation is not None and evaluation.status == "running":
                self.report.evaluation = evaluation
                self._draw_head()
                return
        try:
            self.report = await self.context.evaluations.report(self.tenant, self.evaluation_id)
        except ServiceError as exc:
            self._message(exc.detail)
            return
        except DATABASE_ERRORS as exc:
            self._message(f"The evaluation could not be read: {exc}")
            return
        self.timer.active = self.report.evaluation.status == "running"
        self._draw_head()
        self._draw_summary()
        self._draw_cases()

    def _message(self, text: str) -> None:
        self.timer.active = False
        self.head.clear()
        with self.head:
            ui.label(text).classes("text-negative").props("data-testid=evaluation-error")

    def _draw_head(self) -> None:
        assert self.report is not None
        e = self.report.evaluation
        self.head.clear()
        with self.head:
            with ui.row().classes("w-full items-center gap-3"):
                ui.link("← Evaluations", "/evaluations").classes("text-sm")
                ui.link(f"dataset {self.report.dataset_name}", f"/datasets/{e.dataset_id}").classes("text-sm")
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(f"{self.report.dataset_name} · flow {e.flow_id} · "
                         + ", ".join(f"v{v}" for v in e.versions)).classes("text-h5")
                ui.chip(e.status).props(f"outline data-testid=evaluation-status color="
                                        f"{ {'finished': 'positive', 'failed': 'negative'}.get(e.status, 'grey')}")
                ui.space()
                if e.status == "running":
                    ui.button("Stop", icon="stop", on_click=self._cancel).props("outline no-caps color=negative")
                else:
                    ui.button("Report (JSON)", icon="download", on_click=self._download).props(
                        "flat no-caps data-testid=report-download")
                    ui.button("Results (CSV)", icon="table_view", on_click=self._download_csv).props(
                        "flat no-caps data-testid=results-csv")
            ui.label(f"concurrency {e.concurrency} · caches {'on' if e.use_cache else 'off'} · "
                     f"baseline v{self.report.baseline}").classes("text-grey-7 text-sm")
            if e.status == "running":
                ui.linear_progress(e.done / e.total if e.total else 0, show_value=False).props(
                    "data-testid=evaluation-progress")
                ui.label(f"{e.done} of {e.total} case runs done").classes("text-sm")
            if e.error and e.status != "cancelled":
                ui.label(e.error).classes("text-negative")

    async def _download(self) -> None:
        """The whole report, as the API's report route and ``akis eval --json`` give it (the Save
        dialog in the desktop window, where a download does nothing)."""
        if self.report is not None:
            text = json.dumps(self.report.to_dict(), default=str, ensure_ascii=False, indent=1)
            await save_file(text.encode("utf-8"), f"evaluation-{self.evaluation_id}.json", "application/json")

    async def _download_csv(self) -> None:
        if self.report is not None:
            await save_file(self.report.to_csv().encode("utf-8"), f"evaluation-{self.evaluation_id}.csv", "text/csv")

    async def _accept(self, row: CaseRow, text: str) -> None:
        assert self.report is not None
        try:
            await self.context.datasets.set_expected(self.tenant, self.report.evaluation.dataset_id, row.case_id, text)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        ui.notify(f"{row.case_id}: expected text updated; it applies from the next evaluation", type="positive")

    async def _cancel(self) -> None:
        await self.context.evaluations.cancel(self.tenant, self.evaluation_id)
        await self.refresh()

    def _draw_summary(self) -> None:
        assert self.report is not None
        report = self.report
        names = list(dict.fromkeys(n for s in report.summaries for n in s.scorers))
        columns = [{"name": "version", "label": "version", "field": "version", "align": "left"},
                   {"name": "cases", "label": "cases", "field": "cases"},
                   {"name": "pass", "label": "pass rate", "field": "pass"},
                   *({"name": n, "label": n, "field": n} for n in names),
                   {"name": "p50", "label": "total p50", "field": "p50"},
                   {"name": "p95", "label": "total p95", "field": "p95"},
                   {"name": "fc50", "label": "first chunk p50", "field": "fc50"},
                   {"name": "fc95", "label": "first chunk p95", "field": "fc95"},
                   {"name": "tokens", "label": "tokens in/out", "field": "tokens"}]
        rows = []
        for s in report.summaries:
            mark = " (baseline)" if len(report.summaries) > 1 and s.version == report.baseline else ""
            rows.append({"version": f"v{s.version}{mark}", "cases": s.cases, "pass": f"{s.pass_rate:.1%}",
                         **{n: f"{s.scorers[n].mean:.3f}" if n in s.scorers else "-" for n in names},
                         "p50": fmt_ms(s.duration_p50), "p95": fmt_ms(s.duration_p95),
                         "fc50": fmt_ms(s.first_chunk_p50), "fc95": fmt_ms(s.first_chunk_p95),
                         "tokens": f"{s.tokens_in}/{s.tokens_out}"})
        self.summary.clear()
        with self.summary:
            ui.table(columns=columns, rows=rows, row_key="version").props(
                "dense flat bordered data-testid=evaluation-summary").classes("w-full")
            for c in report.comparisons:
                ui.label(f"v{c.candidate} against v{c.baseline}: {len(c.changed)} changed, "
                         f"{len(c.regressed)} regressed, {len(c.fixed)} fixed").classes(
                    "text-weight-medium " + ("text-negative" if c.regressed else "text-positive")).props(
                    f"data-testid=comparison-v{c.candidate}")
            with ui.row().classes("w-full no-wrap gap-2"):
                ui.plotly(scores_figure(report.summaries, report.baseline)).classes("w-1/2").props(
                    "data-testid=chart-scores")
                ui.plotly(latency_figure(report.summaries, report.baseline)).classes("w-1/2").props(
                    "data-testid=chart-latency")
            ui.plotly(tokens_figure(report.summaries, report.baseline)).classes("w-full").props(
                "data-testid=chart-tokens")

    def _draw_cases(self) -> None:
        if self.report is None:
            return
        report = self.report
        rows = [r for r in report.cases if r.changed or not self.only_changed.value]
        self.cases.clear()
        with self.cases:
            if not rows:
                ui.label("No case changed between the versions." if self.only_changed.value
                         else "No case has finished yet.").classes("text-grey-7")
            for row in rows[:MAX_ROWS]:
                self._case(row, report)
            if len(rows) > MAX_ROWS:
                ui.label(f"… and {len(rows) - MAX_ROWS} more (the API's report and `akis eval --json` list all)")

    def _case(self, row: CaseRow, report: EvaluationReport) -> None:
        versions = report.evaluation.versions
        icons = " ".join(("✔" if row.results[v].passed else "✘") if v in row.results else "…" for v in versions)
        title = f"{row.case_id} · {row.message[:90]}"
        with ui.expansion(title, caption=f"{icons}{'  · changed' if row.changed else ''}").classes(
                "w-full").props(f"dense data-testid=case-{row.case_id}" + (" header-class=text-negative"
                                                                          if row.changed else "")):
            if row.expected is not None:
                ui.label(f"expected: {row.expected}").classes("text-grey-7 text-sm akis-answer")
            with ui.row().classes("w-full no-wrap gap-3 items-start"):
                base = row.results.get(report.baseline)
                for version in versions:
                    result = row.results.get(version)
                    with ui.card().classes("grow").style("flex-basis: 0; min-width: 0"):
                        self._result(report.evaluation.flow_id, version, result,
                                     base if version != report.baseline else None)
                        if result is not None and result.text and result.text != row.expected:
                            ui.button("Use as expected", icon="task_alt",
                                      on_click=lambda r=row, t=result.text: self._accept(r, t)).props(
                                f"flat dense no-caps size=sm data-testid=accept-{row.case_id}-v{version}").tooltip(
                                "Make this answer the case's expected text (the change was intended)")

    @staticmethod
    def _result(flow_id: str, version: int, result: EvalResult | None, base: EvalResult | None) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(f"v{version}").classes("text-weight-medium")
            if result is None:
                ui.label("not run yet").classes("text-grey-7")
                return
            ui.icon("check_circle" if result.passed else "cancel").classes(
                "text-positive" if result.passed else "text-negative")
            ui.label(f"{fmt_ms(result.duration_ms)} · {result.tokens_in + result.tokens_out} tokens").classes(
                "text-sm text-grey-7")
            ui.space()
            if result.run_id:
                # a new tab keeps the results in a browser; the desktop window has one page at a time
                ui.link("run", run_url(flow_id, result.run_id), new_tab=not native_dialogs()).classes(
                    "text-sm").props(f"data-testid=run-link-{result.run_id}").tooltip(
                    "Open this run in the flow editor: its timeline and each node's inputs and outputs")
        if base is not None and base.text != result.text:
            ui.html(word_diff(base.text, result.text)).classes("akis-answer w-full")
        else:
            ui.label(result.text or result.error or "(no answer)").classes("akis-answer w-full")
        with ui.row().classes("gap-1"):
            for name, score in result.scores.items():
                chip = ui.chip(f"{name} {float(score['value']):.2f}",
                               color="positive" if score["passed"] else "negative").props("dense outline")
                if score.get("detail"):
                    chip.tooltip(str(score["detail"]))
