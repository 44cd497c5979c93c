"""``/evaluations``: the tenant's datasets (create, import a JSONL/CSV file) and recent
evaluations; ``/evaluations/{id}``: one evaluation's results (``evaluation_results.py``).
Datasets are edited and run on ``/datasets/{id}`` (``datasets.py``). The pages call the same
services as the API and ``akis eval``."""
from __future__ import annotations

from nicegui import events, ui

from editor.auth import current_tenant, watch_page
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.theme import apply_theme, header
from storage.tables.evaluations import Evaluation

from .case_files import file_format, open_cases_upload
from .evaluation_results import EvaluationView
from .versions import ago

STATUS_COLORS = {"running": "warning", "finished": "positive", "failed": "negative", "cancelled": "grey-7",
                 "interrupted": "negative"}


def register(context: AkisContext) -> None:
    @ui.page("/evaluations", title="Akis · Evaluations")
    async def evaluations_page() -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Evaluations")
        await EvaluationsHome(context, tenant).refresh()

    @ui.page("/evaluations/{evaluation_id}", title="Akis · Evaluation")
    async def evaluation_page(evaluation_id: str) -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Evaluations")
        await EvaluationView(context, tenant, evaluation_id).refresh()

    from . import datasets  # the dataset editor's page

    datasets.register(context)


def status_chip(evaluation: Evaluation) -> ui.chip:
    text = evaluation.status
    if evaluation.status == "running":
        text = f"running {evaluation.done}/{evaluation.total}"
    return ui.chip(text, color=STATUS_COLORS.get(evaluation.status, "grey")).props("dense outline")


def evaluation_item(evaluation: Evaluation, dataset_name: str) -> None:
    versions = ", ".join(f"v{v}" for v in evaluation.versions)
    with ui.item(on_click=lambda e=evaluation: ui.navigate.to(f"/evaluations/{e.id}")).props(
            f"clickable data-testid=evaluation-{evaluation.id}"):
        with ui.item_section():
            ui.item_label(f"{dataset_name} · flow {evaluation.flow_id} · {versions}")
            ui.item_label(f"{ago(evaluation.created_at)} · concurrency {evaluation.concurrency} · "
                          f"cache {'on' if evaluation.use_cache else 'off'}").props("caption")
        with ui.item_section().props("side"):
            status_chip(evaluation)


class EvaluationsHome(ui.column):
    def __init__(self, context: AkisContext, tenant: str) -> None:
        super().__init__()
        self.context, self.tenant = context, tenant
        self.classes("w-full gap-4 q-pa-md").style("max-width: 1100px; margin: 0 auto").props(
            "data-testid=evaluations")
        with self:
            ui.label("Evaluations").classes("text-h5")
            ui.label("Run a dataset of known inputs through one or more versions of a flow and score what comes "
                     "back, before the version gets live traffic.").classes("text-grey-7")
            with ui.card().classes("w-full"), ui.row().classes("w-full items-end gap-3"):
                self.name_input = ui.input("New dataset's name").props("dense data-testid=dataset-name").classes("grow")
                ui.button("Create", icon="add", on_click=self.create).props(
                    "unelevated no-caps data-testid=dataset-create")
                ui.button("Import a JSONL / CSV file", icon="upload", on_click=self.import_dialog).props(
                    "outline no-caps data-testid=dataset-import")
            ui.label("Datasets").classes("text-h6")
            self.datasets = ui.list().props("bordered separator").classes("w-full")
            ui.label("Recent evaluations").classes("text-h6")
            self.recent = ui.list().props("bordered separator").classes("w-full")

    async def refresh(self) -> None:
        try:
            summaries = await self.context.datasets.summaries(self.tenant)
            recent = await self.context.evaluations.recent(self.tenant, limit=20)
        except DATABASE_ERRORS as exc:
            self.datasets.clear()
            with self.datasets:
                ui.item(f"Datasets could not be read: {exc}")
            return
        names = {s.dataset.id: s.dataset.name for s in summaries}
        self.datasets.clear()
        with self.datasets:
            if not summaries:
                ui.item("No dataset yet: create one, import a file, or add a case from a run's History.").props(
                    "data-testid=datasets-empty")
            for s in summaries:
                with ui.item(on_click=lambda d=s.dataset.id: ui.navigate.to(f"/datasets/{d}")).props(
                        f"clickable data-testid=dataset-{s.dataset.id}"):
                    with ui.item_section():
                        ui.item_label(s.dataset.name).classes("text-weight-medium")
                        ui.item_label(s.dataset.description or "").props("caption")
                    with ui.item_section().props("side"):
                        ui.item_label(f"{s.cases} case(s) · {len(s.dataset.scorers)} scorer(s)")
                        ui.item_label(f"changed {ago(s.dataset.updated_at)}").props("caption")
        self.recent.clear()
        with self.recent:
            if not recent:
                ui.item("No evaluation yet: open a dataset and press Run.")
            for evaluation in recent:
                evaluation_item(evaluation, names.get(evaluation.dataset_id, evaluation.dataset_id))

    async def create(self) -> None:
        try:
            row = await self.context.datasets.create(self.tenant, self.name_input.value or "")
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        ui.navigate.to(f"/datasets/{row.id}")

    def import_dialog(self) -> None:
        open_cases_upload("Import a dataset",
                          "JSONL (its first line may carry the name and scorers) or CSV. It goes into the dataset "
                          "named above, else the file's header name, else the file's name; a bad file is refused "
                          "whole, naming each bad line.",
                          "dataset-upload", self.imported)

    async def imported(self, e: events.UploadEventArguments) -> None:
        """The typed name, else the file's header name, else the file's name without its suffix."""
        data = await e.file.read()
        name = e.file.name
        fmt = file_format(name)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            ui.notify(f"{name} is not UTF-8 text", type="negative")
            return
        datasets = self.context.datasets
        try:
            try:
                row, count = await datasets.import_text(self.tenant, text, fmt, self.name_input.value or None)
            except ServiceError as exc:
                if "name the dataset" not in exc.detail:
                    raise
                row, count = await datasets.import_text(self.tenant, text, fmt, name.rsplit(".", 1)[0])
        except ServiceError as exc:
            ui.notify(f"{name}: {exc.detail}", type="negative", multi_line=True)
            return
        ui.notify(f"Imported {count} case(s) into {row.name}", type="positive")
        ui.navigate.to(f"/datasets/{row.id}")
