"""The flows list, ``/``: the tenant's flows with search, new, duplicate, delete, import, examples.

Import validates the file first and names every problem by node and field; nothing is saved
when there is one. On the first start of an empty database the examples are added for the
default tenant, so the app opens with the demo flow.
"""
from __future__ import annotations

import logging

from nicegui import events, ui

from editor.auth import DEFAULT_TENANT, current_tenant, watch_page
from editor.context import AkisContext
from editor.desktop.files import native_dialogs, open_file, save_file
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.flow_files import Example, examples
from editor.services.flows import FlowSummary, ImportMode, ImportResult
from editor.theme import apply_theme, header
from runtime.errors import Problem

from .versions import ago

log = logging.getLogger("akis.editor")
MAX_UPLOAD = 5 * 1024 * 1024


def register(context: AkisContext) -> None:
    try:
        added = context.flows.seed_examples(DEFAULT_TENANT)
        if added:
            log.info("first start: added the example flows %s", ", ".join(added))
    except DATABASE_ERRORS as exc:  # a database problem is reported by the page, not at start-up
        log.warning("example flows not added: %s", exc)

    @ui.page("/", title="Akis · Flows")
    async def flows_page() -> None:
        await FlowsPage(context).build()


class FlowsPage:
    def __init__(self, context: AkisContext) -> None:
        self.context = context
        self.tenant = current_tenant()  # the signed-in user's (from the session), never the page's
        self.query = ""
        self.summaries: list[FlowSummary] = []
        self.experiments: dict[str, str] = {}  # flow id -> its running A/B test

    async def build(self) -> None:
        watch_page()
        dark = apply_theme()
        header(dark, active="Flows")
        with ui.column().classes("w-full max-w-5xl mx-auto px-6 py-8 gap-4"):
            with ui.row().classes("w-full items-center gap-3"):
                ui.label("Flows").classes("text-2xl font-semibold")
                ui.space()
                ui.input(placeholder="Search flows", on_change=lambda e: self._search(e.value or "")).props(
                    "dense outlined clearable data-testid=flow-search").classes("w-64")
                self._examples_menu()
                ui.button("Import", icon="upload_file", on_click=self._import_dialog).props(
                    "outline no-caps data-testid=import")
                ui.button("New flow", icon="add", on_click=self._new_dialog).props(
                    "unelevated no-caps data-testid=new-flow")
            self.list = ui.column().classes("w-full gap-2").props("data-testid=flow-list")
        await self.reload()

    # ---------- list ----------
    async def reload(self) -> None:
        try:
            self.summaries = await self.context.flows.summaries(self.tenant)
        except DATABASE_ERRORS as exc:  # the database is away: say so on the page, not as a traceback
            log.warning("flows not listed: %s", exc)
            self.list.clear()
            with self.list:
                ui.label(f"The flows cannot be read right now: {exc}").classes("text-red-600")
            return
        self._render()
        try:  # after the list shows: the flows with a running A/B test get a badge
            running = await self.context.experiments.running_flows(self.tenant)
        except DATABASE_ERRORS as exc:
            log.warning("running experiments not listed: %s", exc)
            return
        if running != self.experiments:
            self.experiments = running
            self._render()

    def _search(self, query: str) -> None:
        self.query = query
        self._render()

    def _render(self) -> None:
        words = self.query.casefold().split()
        shown = [s for s in self.summaries
                 if all(w in f"{s.name} {s.id} {s.description}".casefold() for w in words)]
        self.list.clear()
        with self.list:
            if not self.summaries:
                with ui.card().props("flat bordered").classes("w-full items-center p-8 gap-2"):
                    ui.icon("account_tree").classes("text-5xl akis-muted")
                    ui.label("No flows yet").classes("text-lg")
                    ui.label("Create one, import a JSON file, or start from an example.").classes("akis-muted")
            elif not shown:
                ui.label(f"No flow matches {self.query!r}.").classes("akis-muted").props("data-testid=no-match")
            for summary in shown:
                self._row(summary)

    def _row(self, s: FlowSummary) -> None:
        with (ui.card().props(f"flat bordered data-testid=flow-{s.id}").classes("w-full p-0"),
              ui.row().classes("w-full items-center no-wrap gap-4 px-4 py-3")):
            with ui.column().classes("gap-0 grow min-w-0 cursor-pointer") as main:
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.label(s.name).classes("text-base font-semibold ellipsis")
                    ui.badge(f"v{s.version}").props("outline").classes("text-xs")
                    if s.id in self.experiments:  # an A/B test splits this flow's conversations
                        experiment = self.experiments[s.id]
                        ui.badge("A/B test", color="positive").props(f"data-testid=ab-{s.id}").classes(
                            "text-xs cursor-pointer").on("click.stop", lambda _, e=experiment: ui.navigate.to(
                                f"/experiments/{e}"))
                if s.description:
                    ui.label(s.description).classes("text-sm akis-muted ellipsis w-full")
                run = (f"last run {ago(s.last_run_at)} ({s.last_run_status})" if s.last_run_at else "never run")
                ui.label(f"{s.id} · {s.nodes} nodes · updated {ago(s.updated_at)} · {run}").classes(
                    "text-xs akis-muted")
            main.on("click", lambda _, i=s.id: ui.navigate.to(f"/flows/{i}"))
            ui.button("Open", on_click=lambda _, i=s.id: ui.navigate.to(f"/flows/{i}")).props(
                f"unelevated dense no-caps data-testid=open-{s.id}").classes("px-3")
            with ui.button(icon="more_vert").props(f"flat round dense data-testid=menu-{s.id}"), ui.menu():
                ui.menu_item("Duplicate", on_click=lambda _, i=s.id: self._duplicate(i)).props(
                    f"data-testid=duplicate-{s.id}")
                ui.menu_item("Export JSON", on_click=lambda _, i=s.id: self._export(i))
                ui.menu_item("Delete…", on_click=lambda _, x=s: self._confirm_delete(x)).props(
                    f"data-testid=delete-{s.id}")

    # ---------- actions ----------
    async def _new_dialog(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label("New flow").classes("text-lg font-semibold")
            name = ui.input("Name", value="").props("autofocus outlined dense data-testid=new-flow-name")
            name.classes("w-full")
            name.on("keydown.enter", lambda: dialog.submit(name.value))
            ui.label("It starts with a user message wired to an output.").classes("text-sm akis-muted")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Create", on_click=lambda: dialog.submit(name.value)).props(
                    "unelevated no-caps data-testid=new-flow-create")
        result = await dialog
        if result is None:
            return
        flow_id = await self.context.flows.create_blank(self.tenant, result)
        ui.navigate.to(f"/flows/{flow_id}")

    async def _duplicate(self, flow_id: str) -> None:
        try:
            new_id = await self.context.flows.duplicate(self.tenant, flow_id)
        except ServiceError as exc:
            ui.notify(f"Not duplicated: {exc.detail}", type="negative")
            return
        ui.notify(f"Duplicated as {new_id}", type="positive")
        await self.reload()

    async def _export(self, flow_id: str) -> None:
        try:
            text = await self.context.flows.export_json(self.tenant, flow_id)
        except ServiceError as exc:
            ui.notify(f"Not exported: {exc.detail}", type="negative")
            return
        await save_file(text.encode("utf-8"), f"{flow_id}.json")  # the Save dialog in the desktop window

    async def _confirm_delete(self, summary: FlowSummary) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label(f"Delete {summary.name}?").classes("text-lg font-semibold")
            ui.label(f"All {summary.version} version(s) of {summary.id} are deleted. This cannot be undone.").classes(
                "text-sm")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps")
                ui.button("Delete", on_click=lambda: dialog.submit(True)).props(
                    "unelevated no-caps color=negative data-testid=confirm-delete")
        if await dialog:
            try:
                await self.context.flows.delete(self.tenant, summary.id)
            except ServiceError as exc:
                ui.notify(f"Not deleted: {exc.detail}", type="negative")
            else:
                ui.notify(f"Deleted {summary.name}")
            await self.reload()

    def _examples_menu(self) -> None:
        shipped = examples()
        with (ui.button("Examples", icon="auto_awesome").props("outline no-caps data-testid=examples"),
              ui.menu().classes("max-w-md")):
            if not shipped:
                ui.menu_item("No examples found").props("disable")
            for example in shipped:
                with ui.menu_item(on_click=lambda _, e=example: self._add_example(e)).props(
                        f"data-testid=example-{example.flow_id}"), ui.column().classes("gap-0"):
                    ui.label(example.name).classes("font-medium")
                    if example.description:
                        ui.label(example.description).classes("text-xs akis-muted")

    async def _add_example(self, example: Example) -> None:
        try:
            flow_id = await self.context.flows.add_example(self.tenant, example.path)
        except ServiceError as exc:
            ui.notify(f"Not added: {exc.detail}", type="negative")
            return
        ui.navigate.to(f"/flows/{flow_id}")

    # ---------- import ----------
    def _import_dialog(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-[640px] max-w-[95vw]"):
            ui.label("Import a flow").classes("text-lg font-semibold")
            ui.label("A JSON file as export writes it. It is checked first; nothing is saved if it has a problem.") \
                .classes("text-sm akis-muted")
            picker = ui.column().classes("w-full")
            result = ui.column().classes("w-full gap-2").props("data-testid=import-result")
            with picker:
                if native_dialogs():  # the desktop window: the system's Open dialog instead of an upload field
                    ui.button("Choose a flow JSON file…", icon="folder_open",
                              on_click=lambda: self._open_native(result)).props(
                        "outline no-caps data-testid=import-open").classes("w-full")
                else:
                    upload = ui.upload(label="Choose or drop a flow JSON file", auto_upload=True,
                                       max_file_size=MAX_UPLOAD,
                                       on_rejected=lambda: ui.notify(
                                           f"The file is larger than {MAX_UPLOAD // 1024 // 1024} MB",
                                           type="negative")).props(
                        "accept=.json,application/json flat bordered data-testid=import-upload").classes("w-full")
                    upload.on_upload(lambda e: self._imported(e, result, upload))
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    async def _imported(self, e: events.UploadEventArguments, box: ui.column, upload: ui.upload) -> None:
        data = await e.file.read()
        upload.reset()
        result = await self.context.flows.import_text(self.tenant, data)
        self._show_import(result, data, box, e.file.name)

    async def _open_native(self, box: ui.column) -> None:
        chosen = await open_file(MAX_UPLOAD)
        if chosen is None:
            return
        name, data = chosen
        result = await self.context.flows.import_text(self.tenant, data)
        self._show_import(result, data, box, name)

    def _show_import(self, result: ImportResult, data: bytes, box: ui.column, name: str) -> None:
        box.clear()
        with box:
            if result.flow_id:
                ui.navigate.to(f"/flows/{result.flow_id}")
            elif result.exists and result.document is not None:
                flow_id = str(result.document.flow_id)
                ui.label(f"{name}: a flow {flow_id!r} already exists.").classes("text-sm")
                with ui.row().classes("gap-2"):
                    ui.button(f"Save as a new version of {flow_id}",
                              on_click=lambda: self._import_as(data, "version", box, name)).props(
                        "unelevated no-caps dense data-testid=import-as-version")
                    ui.button("Import as a copy", on_click=lambda: self._import_as(data, "copy", box, name)).props(
                        "outline no-caps dense data-testid=import-as-copy")
            else:
                problems_table(result.problems, name)

    async def _import_as(self, data: bytes, mode: ImportMode, box: ui.column, name: str) -> None:
        result = await self.context.flows.import_text(self.tenant, data, mode)
        self._show_import(result, data, box, name)


def problems_table(problems: list[Problem], name: str) -> None:
    """Every problem of a refused import, by node and field."""
    with ui.row().classes("items-center gap-2 text-red-700").props("data-testid=import-refused"):
        ui.icon("error_outline")
        ui.label(f"{name} was not imported: {len(problems)} problem{'s' * (len(problems) != 1)}. Nothing was saved.")
    rows = [{"id": i, "node": p.node_id or (f"{p.edge[0]} → {p.edge[1]}" if p.edge else p.group_id or "flow"),
             "field": p.field or "", "message": p.message} for i, p in enumerate(problems)]
    ui.table(columns=[{"name": "node", "label": "Node", "field": "node", "align": "left"},
                      {"name": "field", "label": "Field", "field": "field", "align": "left"},
                      {"name": "message", "label": "Problem", "field": "message", "align": "left",
                       "style": "white-space: normal"}],
             rows=rows, row_key="id").props("dense flat bordered wrap-cells data-testid=import-problems") \
        .classes("w-full")
