"""``/datasets/{id}``: one dataset — its name, description and scorers, its cases (add, edit,
delete), export and import of JSONL/CSV, and the form that runs it through versions of a flow."""
from __future__ import annotations

import json
from typing import Any

from nicegui import events, ui

from editor.auth import current_tenant, watch_page
from editor.context import AkisContext
from editor.desktop.files import save_file
from editor.services.datasets import FileFormat, check_case
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.theme import apply_theme, header
from storage.tables.evaluations import EvalCase, EvalDataset

from .case_files import file_format, open_cases_upload
from .versions import ago

MAX_SHOWN = 500  # cases drawn on the page; every one still runs
SCORER_EXAMPLE = ('[{"kind": "contains", "value": "pallet"}, {"kind": "latency", "budget_ms": 3000},\n'
                  ' {"kind": "judge", "rubric": "Polite and on topic?", "provider": "mock"}]')


def register(context: AkisContext) -> None:
    @ui.page("/datasets/{dataset_id}", title="Akis · Dataset")
    async def dataset_page(dataset_id: str) -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Evaluations")
        await DatasetView(context, tenant, dataset_id).refresh()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""


class DatasetView(ui.column):
    def __init__(self, context: AkisContext, tenant: str, dataset_id: str) -> None:
        super().__init__()
        self.context, self.tenant, self.dataset_id = context, tenant, dataset_id
        self.dataset: EvalDataset | None = None
        self.classes("w-full gap-3 q-pa-md").style("max-width: 1200px; margin: 0 auto").props("data-testid=dataset")
        with self:
            self.body = ui.column().classes("w-full gap-3")

    async def refresh(self) -> None:
        try:
            self.dataset = await self.context.datasets.get(self.tenant, self.dataset_id)
            cases = await self.context.datasets.cases(self.tenant, self.dataset.id)
            flows = await self.context.flows.summaries(self.tenant)
            recent = await self.context.evaluations.recent(self.tenant, self.dataset.id, limit=10)
        except ServiceError as exc:
            self._problem(exc.detail)
            return
        except DATABASE_ERRORS as exc:
            self._problem(f"The dataset could not be read: {exc}")
            return
        dataset = self.dataset
        self.body.clear()
        with self.body:
            ui.link("← Evaluations", "/evaluations").classes("text-sm")
            with ui.row().classes("w-full items-end gap-3"):
                self.name_input = ui.input("Name", value=dataset.name).props("dense data-testid=dataset-name-edit")
                self.description = ui.input("Description", value=dataset.description).props("dense").classes("grow")
                ui.button("Save", on_click=self.save).props("unelevated no-caps data-testid=dataset-save")
                ui.button(icon="delete", on_click=self.confirm_delete).props(
                    "flat round color=negative data-testid=dataset-delete").tooltip("Delete the dataset")
            self._scorers(dataset)
            self._run_form(flows, len(cases))
            if recent:
                from .evaluations import evaluation_item

                ui.label("Evaluations of this dataset").classes("text-h6")
                with ui.list().props("bordered separator").classes("w-full"):
                    for evaluation in recent:
                        evaluation_item(evaluation, dataset.name)
            self._cases(cases)

    def _problem(self, text: str) -> None:
        self.body.clear()
        with self.body:
            ui.link("← Evaluations", "/evaluations")
            ui.label(text).classes("text-negative").props("data-testid=dataset-error")

    # -- scorers ---------------------------------------------------------------------------
    def _scorers(self, dataset: EvalDataset) -> None:
        with ui.expansion(f"Scorers ({len(dataset.scorers)})", value=not dataset.scorers).classes("w-full").props(
                "data-testid=scorers"):
            ui.markdown("Kinds: `exact`, `contains`, `regex`, `json_schema`, `similarity`, `numeric`, `latency`, "
                        "`tokens`, `judge` (see docs/evaluations.md). A scorer without a value compares with the "
                        "case's property of its name, else its expected text.").classes("text-sm")
            self.scorers = ui.textarea(value=json.dumps(list(dataset.scorers), indent=1, ensure_ascii=False),
                                       placeholder=SCORER_EXAMPLE).props(
                "outlined autogrow input-class=font-mono data-testid=scorers-json").classes("w-full")
            ui.button("Save scorers", on_click=self.save_scorers).props(
                "outline no-caps data-testid=scorers-save")

    async def save(self) -> None:
        await self._update(name=self.name_input.value, description=self.description.value)

    def confirm_delete(self) -> None:
        name = self.dataset.name if self.dataset else self.dataset_id
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete {name!r} with its cases and evaluations?")

            async def delete() -> None:
                dialog.close()
                try:
                    await self.context.datasets.delete(self.tenant, self.dataset_id)
                except ServiceError as exc:
                    ui.notify(exc.detail, type="negative")
                    return
                ui.navigate.to("/evaluations")

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Delete", on_click=delete).props("unelevated no-caps color=negative "
                                                           "data-testid=dataset-delete-confirm")
        dialog.open()

    async def save_scorers(self) -> None:
        try:
            scorers = json.loads(self.scorers.value or "[]")
        except ValueError as exc:
            ui.notify(f"The scorers are not JSON: {exc}", type="negative")
            return
        if not isinstance(scorers, list):
            ui.notify("The scorers are a JSON list", type="negative")
            return
        await self._update(scorers=scorers)

    async def _update(self, **values: Any) -> None:
        try:
            await self.context.datasets.update(self.tenant, self.dataset_id, **values)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        ui.notify("Saved", type="positive")
        await self.refresh()

    # -- running -----------------------------------------------------------------------------
    def _run_form(self, flows: list[Any], cases: int) -> None:
        with ui.card().classes("w-full").props("data-testid=run-form"):
            ui.label("Run an evaluation").classes("text-h6")
            with ui.row().classes("w-full items-end gap-3"):
                self.flow = ui.select({f.id: f"{f.name or f.id} (v{f.version})" for f in flows}, label="Flow",
                                      on_change=self._flow_changed).props("dense data-testid=run-flow").classes(
                    "min-w-[220px]")
                self.versions = ui.select([], label="Versions", multiple=True).props(
                    "dense use-chips data-testid=run-versions").classes("min-w-[200px]")
                self.baseline = ui.select([], label="Baseline").props(
                    "dense clearable data-testid=run-baseline").classes("w-32")
                self.concurrency = ui.number("Concurrency", value=4, min=1, max=64, step=1, precision=0).props(
                    "dense data-testid=run-concurrency").classes("w-28")
                self.use_cache = ui.switch("Caches on", value=True).props("data-testid=run-cache")
                ui.button(f"Run {cases} case(s)", icon="play_arrow", on_click=self.run).props(
                    "unelevated no-caps data-testid=run-evaluation").set_enabled(cases > 0)

    async def _flow_changed(self) -> None:
        if not self.flow.value:
            return
        try:
            versions = [v.version for v in await self.context.flows.versions(self.tenant, self.flow.value)]
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        options = {v: f"v{v}" for v in versions}
        self.versions.set_options(options, value=versions[:1])
        self.baseline.set_options(options, value=None)

    async def run(self) -> None:
        if not self.flow.value:
            ui.notify("Choose a flow", type="warning")
            return
        try:
            started = await self.context.evaluations.start(
                self.tenant, self.dataset_id, self.flow.value, sorted(self.versions.value or []) or None,
                baseline=self.baseline.value, concurrency=int(self.concurrency.value or 4),
                use_cache=bool(self.use_cache.value))
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        ui.navigate.to(f"/evaluations/{started.id}")

    # -- cases ------------------------------------------------------------------------------
    def _cases(self, cases: list[EvalCase]) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(f"Cases ({len(cases)})").classes("text-h6")
            ui.space()
            ui.button("Add case", icon="add", on_click=lambda: self.edit(None)).props(
                "outline no-caps dense data-testid=case-add")
            ui.button("JSONL", icon="download", on_click=lambda: self.export("jsonl")).props(
                "flat no-caps dense data-testid=export-jsonl")
            ui.button("CSV", icon="download", on_click=lambda: self.export("csv")).props(
                "flat no-caps dense data-testid=export-csv")
            ui.button("Import", icon="upload", on_click=self.import_dialog).props(
                "flat no-caps dense data-testid=import-cases")
        with ui.list().props("bordered separator dense").classes("w-full").props("data-testid=case-list"):
            if not cases:
                ui.item("No case yet: add one, import a file, or use 'Add to dataset' on a run in a flow's History.")
            for case in cases[:MAX_SHOWN]:
                with ui.item().props(f"data-testid=case-row-{case.id}"):
                    with ui.item_section():
                        ui.item_label(case.message[:160])
                        details = [f"expected: {case.expected[:100]}" if case.expected else "",
                                   f"properties: {_json(case.properties)[:100]}" if case.properties else "",
                                   f"{len(case.history)} earlier turn(s)" if case.history else "",
                                   f"from run {case.source_run_id[:8]}" if case.source_run_id else ""]
                        ui.item_label(" · ".join(d for d in details if d)).props("caption")
                    with ui.item_section().props("side"), ui.row().classes("gap-0"):
                        ui.button(icon="edit", on_click=lambda c=case: self.edit(c)).props(
                            f"flat dense round data-testid=case-edit-{case.id}")
                        ui.button(icon="delete", on_click=lambda c=case: self.delete_case(c)).props(
                            f"flat dense round data-testid=case-delete-{case.id}")
        if len(cases) > MAX_SHOWN:
            ui.label(f"… and {len(cases) - MAX_SHOWN} more (export the dataset to see and edit them all)").classes(
                "text-sm")
        ui.label(f"updated {ago(self.dataset.updated_at if self.dataset else None)}").classes("text-grey-7 text-sm")

    def edit(self, case: EvalCase | None) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-full").style("max-width: 720px").props(
                "data-testid=case-dialog"):
            ui.label("Edit case" if case else "New case").classes("text-h6")
            message = ui.textarea("Message", value=case.message if case else "").props(
                "outlined autogrow data-testid=case-message").classes("w-full")
            expected = ui.textarea("Expected answer (optional)", value=(case.expected or "") if case else "").props(
                "outlined autogrow data-testid=case-expected").classes("w-full")
            history = ui.input("Earlier turns (JSON list of {role, content})",
                               value=_json(case.history) if case else "").props("dense").classes("w-full")
            inputs = ui.input("Extra inputs (JSON object)", value=_json(case.inputs) if case else "").props(
                "dense").classes("w-full")
            properties = ui.input("Properties scorers read by name (JSON object)",
                                  value=_json(case.properties) if case else "").props("dense").classes("w-full")
            error = ui.label().classes("text-negative")

            async def save() -> None:
                try:
                    values = {"message": message.value, "expected": expected.value or None,
                              "history": json.loads(history.value or "[]"), "inputs": json.loads(inputs.value or "{}"),
                              "properties": json.loads(properties.value or "{}")}
                    checked = check_case(values)
                    if case is None:
                        await self.context.datasets.add_cases(self.tenant, self.dataset_id, [checked])
                    else:
                        await self.context.datasets.update_case(self.tenant, self.dataset_id, case.id, values)
                except ValueError as exc:
                    error.text = f"Not JSON: {exc}"
                    return
                except ServiceError as exc:
                    error.text = exc.detail
                    return
                dialog.close()
                await self.refresh()

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Save", on_click=save).props("unelevated no-caps data-testid=case-save")
        dialog.open()

    async def delete_case(self, case: EvalCase) -> None:
        try:
            await self.context.datasets.delete_case(self.tenant, self.dataset_id, case.id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
        await self.refresh()

    async def export(self, fmt: FileFormat) -> None:
        text = await self.context.datasets.export_text(self.tenant, self.dataset_id, fmt)
        name = self.dataset.name if self.dataset else "dataset"
        await save_file(text.encode("utf-8"), f"{name}.{fmt}",  # the Save dialog in the desktop window
                        "text/csv" if fmt == "csv" else "application/x-ndjson")

    def import_dialog(self) -> None:
        open_cases_upload("Import cases",
                          "A JSONL or CSV file (the format export writes); its cases are added to this dataset. "
                          "A bad file is refused whole, naming each bad line.",
                          "cases-upload", self.imported)

    async def imported(self, e: events.UploadEventArguments) -> None:
        data = await e.file.read()
        fmt = file_format(e.file.name)
        try:
            _, count = await self.context.datasets.import_text(self.tenant, data.decode("utf-8-sig"), fmt,
                                                               self.dataset_id)
        except UnicodeDecodeError:
            ui.notify(f"{e.file.name} is not UTF-8 text", type="negative")
            return
        except ServiceError as exc:
            ui.notify(f"{e.file.name}: {exc.detail}", type="negative", multi_line=True)
            return
        ui.notify(f"Imported {count} case(s)", type="positive")
        await self.refresh()
