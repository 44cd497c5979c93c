"""The flow editor page, ``/flows/{flow_id}``: palette, canvas, inspector, toolbar, run pane.

Layout only; behaviour lives in :class:`EditorSession`. The run pane (``editor.run_pane``) is
mounted in the right-hand panel the first time its tab opens. ``?run={run_id}`` opens it on that
stored run's History entry (:mod:`.run_link`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nicegui import ui

from editor.auth import current_identity, watch_page
from editor.canvas import FlowCanvas
from editor.context import AkisContext
from editor.inspector import Inspector, InspectorActions
from editor.palette import Palette
from editor.run_pane import RunPane
from editor.run_pane.chat import ChatLayout
from editor.services.errors import DATABASE_ERRORS, NotFound, ServiceError
from editor.theme import apply_theme, header

from .editor_session import EditorSession, load_draft
from .panels import FoldingPanel
from .publish_dialog import open_publish
from .run_link import LinkedRun, linked_run, run_notice, show_run
from .versions import ago, open_versions

log = logging.getLogger("akis.editor")


def register(context: AkisContext) -> None:
    @ui.page("/flows/{flow_id}", title="Akis flow editor")
    async def flow_editor_page(flow_id: str, run: str | None = None) -> None:
        await build_editor(context, flow_id, run)


async def build_editor(context: AkisContext, flow_id: str, run_id: str | None = None) -> EditorSession | None:
    identity = current_identity()  # the signed-in user's tenant (the session's), never the page's
    tenant = identity.tenant_id
    watch_page()
    dark = apply_theme()
    try:
        stored = await context.flows.read(tenant, flow_id)
    except ServiceError as exc:  # no such flow, or a stored row that cannot be read
        log.info("flow %r not opened: %s", flow_id, exc.detail)
        header(dark)
        with ui.column().classes("p-8 gap-3"):
            message = f"There is no flow {flow_id!r}." if isinstance(exc, NotFound) else exc.detail
            ui.label(message).classes("text-lg").props("data-testid=not-found")
            ui.link("Back to the flows", "/")
        return None
    document, version = stored.document.model_copy(deep=True), stored.version  # the editor changes its copy
    session = EditorSession(context, tenant, document, version, load_draft(tenant, flow_id))
    flow_choices = await _other_flows(context, tenant, flow_id)
    knowledge_choices = await _knowledge_bases(context, tenant)
    linked = await linked_run(context, tenant, flow_id, run_id) if run_id else LinkedRun()
    ui.page_title(f"{document.name or flow_id} · Akis")

    with ui.column().classes("w-full gap-0 no-wrap").style("height: 100vh"):
        slot = header(dark, on_dark=lambda value: session.canvas.set_dark(value) if session.canvas else None)
        with slot:
            _title(session)
        _toolbar(session)
        if session.restored_from is not None:
            _restored_banner(session)
        if linked.notice is not None:
            run_notice(linked)
        with ui.row().classes("w-full no-wrap gap-0 grow").style("min-height: 0"):
            with (FoldingPanel("palette", 248, "Nodes", side="left").body,
                  ui.scroll_area().classes("w-full grow").props("content-style='padding: 4px 12px 12px'")):
                types = [t.describe() for t in context.registry.types_for(tenant)]
                Palette(types, session.add_from_palette).style("width: 212px")
            with ui.column().classes("grow h-full gap-0 no-wrap").style("min-width: 0"):
                with ui.element("div").classes("w-full grow").style("position: relative; min-height: 0"):
                    nodes, edges, groups = session.initial_props()
                    canvas = FlowCanvas(nodes, edges, groups, dark=bool(dark.value))
                    canvas.style("position: absolute; inset: 0; height: 100%")
                    canvas.props("data-testid=canvas")
                    session.attach(canvas)
                _problem_bar(session)
            with FoldingPanel("side", 380, "Inspector · Run", side="right").body:
                open_pane = _side_panel(context, session, canvas, tenant, pick_tenant=identity.single_user,
                                        flow_choices=flow_choices, knowledge_choices=knowledge_choices)
    ui.timer(0.5, session.persist_draft)
    if linked.run is not None:
        await show_run(linked.run, open_pane)
    return session


async def _other_flows(context: AkisContext, tenant: str, flow_id: str) -> dict[str, str]:
    """The tenant's other flows, id -> "name (id)": what a sub-flow, iterate or a flow tool may
    run (the inspector offers them; a flow id typed by hand still works)."""
    try:
        summaries = await context.flows.summaries(tenant)
    except DATABASE_ERRORS as exc:  # the picker is a convenience: the editor opens without it
        log.warning("flows for the flow picker not read: %s", exc)
        return {}
    return {s.id: f"{s.name} ({s.id})" if s.name and s.name != s.id else s.id for s in summaries if s.id != flow_id}


async def _knowledge_bases(context: AkisContext, tenant: str) -> dict[str, str]:
    """The tenant's knowledge bases, id -> "name (id)", for knowledge_retrieval's picker."""
    try:
        bases = await context.knowledge.bases(tenant)
    except DATABASE_ERRORS as exc:  # the picker is a convenience: the editor opens without it
        log.warning("knowledge bases for the picker not read: %s", exc)
        return {}
    return {b.id: f"{b.name} ({b.id})" if b.name and b.name != b.id else b.id for b in bases}


# ---------- pieces ----------
def _title(session: EditorSession) -> None:
    with ui.row().classes("items-center gap-2 no-wrap min-w-0 ml-4"):
        name = ui.label().classes("text-base font-semibold ellipsis").props("data-testid=flow-title")
        version = ui.badge().props("outline").classes("text-xs")
        unsaved = ui.label("● Unsaved changes").classes("akis-unsaved text-sm").props("data-testid=unsaved")

    def update() -> None:
        name.text = session.draft.document.name or session.flow_id
        version.text = f"v{session.draft.version}" if session.draft.version else "not saved"
        unsaved.visible = session.draft.dirty

    update()
    session.listeners.append(update)


def _toolbar(session: EditorSession) -> None:
    with ui.row().classes("akis-panel border-b w-full items-center no-wrap gap-1 px-3 py-1").style("flex: none"):
        with ui.button_group().props("unelevated"):
            ui.button("Save", icon="save", on_click=lambda: session.save()).props(
                "unelevated no-caps dense data-testid=save").classes("px-3").tooltip("Save a new version (Ctrl+S)")
            ui.button(icon="edit_note", on_click=lambda: _save_with_comment(session)).props(
                "unelevated dense data-testid=save-comment").tooltip("Save with a comment")
        ui.separator().props("vertical").classes("mx-1")
        undo = _tool("undo", "Undo (Ctrl+Z)", session.undo, "undo")
        redo = _tool("redo", "Redo (Ctrl+Shift+Z)", session.redo, "redo")
        ui.separator().props("vertical").classes("mx-1")
        _tool("account_tree", "Auto-layout left to right", session.auto_layout, "layout")
        _tool("fit_screen", "Fit the flow in view", lambda: canvas_call(session, "fit_view"), "fit")
        ui.separator().props("vertical").classes("mx-1")
        group = _tool("call_split", "Group the selected nodes to run in parallel", session.group_selected, "group")
        delete = _tool("delete_outline", "Delete the selection (Delete)", session.delete_selected, "delete")
        ui.separator().props("vertical").classes("mx-1")
        validate = ui.button("Validate", icon="rule", on_click=lambda: _validate(session)).props(
            "flat no-caps dense data-testid=validate")
        _tool("download", "Export the flow as JSON", session.export, "export")
        _tool("history", "Versions: history, compare, restore", lambda: open_versions(session), "versions")
        ui.button("Publish", icon="public", on_click=lambda: open_publish(session)).props(
            "flat no-caps dense data-testid=publish").tooltip("Put this flow's chat on a website")

    def update() -> None:
        undo.set_enabled(session.draft.history.can_undo)
        redo.set_enabled(session.draft.history.can_redo)
        group.set_enabled(len(session.selection) >= 2)
        picked = session.canvas.selection if session.canvas else {}
        delete.set_enabled(bool(session.selection or picked.get("edges") or picked.get("nodes")))
        count, warned = len(session.problems), len(session.problems.warnings)
        validate.props(f"icon={'error_outline' if count else 'warning_amber' if warned else 'check_circle'}")
        validate.text = problem_summary(count, warned, valid="Valid")
        validate.classes(replace="text-red-600" if count else "text-amber-700" if warned else "text-green-700")

    update()
    session.listeners.append(update)


def canvas_call(session: EditorSession, method: str) -> None:
    if session.canvas is not None:
        getattr(session.canvas, method)()


def _tool(icon: str, tip: str, handler: Any, testid: str) -> ui.button:
    return ui.button(icon=icon, on_click=handler).props(f"flat round dense data-testid={testid}").tooltip(tip)


async def _save_with_comment(session: EditorSession) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label("Save a new version").classes("text-lg font-semibold")
        comment = ui.input("What changed? (optional)").props("autofocus outlined dense data-testid=save-comment-input")
        comment.classes("w-full").on("keydown.enter", lambda: dialog.submit(comment.value))
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Save", on_click=lambda: dialog.submit(comment.value)).props(
                "unelevated no-caps data-testid=save-comment-confirm")
    result = await dialog
    if result is not None:
        await session.save(result.strip() or None)


def _validate(session: EditorSession) -> None:
    session.after_edit(rebuild_inspector=False)
    count, warned = len(session.problems), len(session.problems.warnings)
    if count or warned:
        ui.notify(f"{problem_summary(count, warned)}: see the list below the canvas",
                  type="warning" if count else "info")
    else:
        ui.notify("The flow is valid", type="positive")


def problem_summary(errors: int, warnings: int, valid: str = "No problems") -> str:
    """"2 problems · 1 warning", "Valid · 3 warnings": errors stop a run, warnings do not."""
    parts = [f"{errors} problem{'s' * (errors != 1)}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    if not errors:
        parts.insert(0, valid)
    return " · ".join(parts)


def _restored_banner(session: EditorSession) -> None:
    kept = session.restored_from or {}
    base = kept.get("base_version")
    note = str(kept.get("note") or f"Restored your unsaved changes from {_when(kept.get('saved_at'))}")
    if base is not None and base != session.draft.version:
        note += f" (made on version {base}; version {session.draft.version} was saved since)"
    with ui.row().classes("w-full items-center no-wrap gap-2 px-4 py-1 bg-amber-100 text-amber-900 text-sm").props(
            "data-testid=restored-banner") as banner:
        ui.icon("restore")
        ui.label(note)
        ui.space()
        ui.button("Keep", on_click=banner.delete).props("flat dense no-caps data-testid=keep-draft")

        def discard() -> None:
            session.discard_changes()
            banner.delete()

        ui.button("Discard them", on_click=discard).props("flat dense no-caps data-testid=discard-draft")


def _when(text: Any) -> str:
    try:
        return ago(datetime.fromisoformat(str(text)))
    except ValueError:
        return "an earlier visit"


def _problem_bar(session: EditorSession) -> None:
    with ui.column().classes("akis-panel border-t w-full gap-0 no-wrap").style("flex: none; max-height: 32vh"):
        with ui.row().classes("w-full items-center no-wrap gap-2 px-3 py-1 cursor-pointer").props(
                "data-testid=problem-bar") as head:
            icon = ui.icon("check_circle")
            summary = ui.label().classes("text-sm font-medium").props("data-testid=problem-summary")
            ui.space()
            chevron = ui.icon("expand_less").classes("akis-muted")
        with ui.scroll_area().classes("w-full").style("height: 150px") as area:
            rows = ui.column().classes("w-full gap-0 px-2 pb-2").props("data-testid=problem-list")
    state = _BarState()

    def toggle() -> None:
        state.open = not state.open
        update()

    head.on("click", toggle)

    def update() -> None:
        problems = session.problems.errors + session.problems.warnings  # errors first
        count, warned = len(session.problems), len(session.problems.warnings)
        icon.name = "error_outline" if count else "warning_amber" if warned else "check_circle"
        icon.classes(replace="text-red-600 text-lg" if count else "text-amber-600 text-lg" if warned
                     else "text-green-600 text-lg")
        summary.text = problem_summary(count, warned)
        area.visible = state.open and bool(problems)
        chevron.name = "expand_more" if area.visible else "expand_less"
        key = [p.message for p in problems]
        if key == state.shown:
            return
        state.shown = key
        rows.clear()
        with rows:
            for problem in problems:
                with ui.row().classes("akis-problem-row w-full items-start no-wrap gap-2 px-2 py-1").props(
                        "data-testid=problem-row") as row:
                    if problem.is_warning:
                        ui.icon("warning_amber").classes("text-amber-600 text-base mt-px").props(
                            "data-testid=problem-warning")
                    else:
                        ui.icon("error_outline").classes("text-red-600 text-base mt-px")
                    ui.label(problem.message).classes("text-sm")
                row.on("click", lambda _, p=problem: session.select_problem(p))

    update()
    session.listeners.append(update)


@dataclass
class _BarState:
    open: bool = False
    shown: list[str] | None = None  # the messages listed now (rebuilt only when they change)


def _side_panel(context: AkisContext, session: EditorSession, canvas: FlowCanvas, tenant: str, *,
                pick_tenant: bool = False, flow_choices: dict[str, str] | None = None,
                knowledge_choices: dict[str, str] | None = None) -> Callable[[], RunPane | None]:
    """Returns what opens the Run tab and gives its pane (None when it failed to start)."""
    actions = InspectorActions(select_nodes=lambda ids: session.select_later(ids, delay=0),
                               group_selected=session.group_selected, delete_selected=session.delete_selected)
    mounted: list[RunPane | None] = []  # the pane once its tab opened

    def on_tab(value: Any) -> None:
        """The run pane is built the first time its tab opens: a big flow opens faster without it."""
        if value == "run" and not mounted:
            with run_holder:
                mounted.append(_run_pane(context, session, canvas, tenant, pick_tenant))

    with ui.tabs(on_change=lambda e: on_tab(e.value)).props("dense no-caps align=justify").classes(
            "w-full border-b") as tabs:
        inspect_tab = ui.tab("inspector", "Inspector", icon="tune").props("data-testid=tab-inspector").mark(
            "tab-inspector")
        run_tab = ui.tab("run", "Run", icon="play_arrow").props("data-testid=tab-run")
    with ui.tab_panels(tabs, value=inspect_tab).props("animated=false keep-alive").classes(
            "w-full grow bg-transparent").style("min-height: 0"):
        with (ui.tab_panel(inspect_tab).classes("p-0 h-full"), ui.scroll_area().classes("h-full"),
              ui.column().classes("w-full p-3 gap-3")):
            session.inspector = Inspector(session.draft, lambda: session.after_edit(rebuild_inspector=False), actions,
                                          flow_choices=flow_choices, knowledge_choices=knowledge_choices)
            session.inspector.show_problems(session.problems)  # the opened flow's, before any edit
        with ui.tab_panel(run_tab).classes("p-0 h-full"):
            run_holder = ui.column().classes("w-full h-full gap-0")

    def open_pane() -> RunPane | None:
        tabs.set_value("run")  # mounts the pane the first time
        return mounted[0] if mounted else None
    return open_pane


def _run_pane(context: AkisContext, session: EditorSession, canvas: FlowCanvas, tenant: str,
              pick_tenant: bool = False) -> RunPane | None:
    try:
        pane = RunPane(context, flow_provider=session.snapshot, canvas=canvas, tenant_id=tenant,
                       on_apply=session.apply_document, pick_tenant=pick_tenant)
        ChatLayout(pane.chat, pane.message, pane.answers, pane.result_box).follow(pane.chat_switch, pane.run)
    except Exception as exc:  # its failure must not take the editor with it
        log.exception("the run pane failed to start")
        ui.label(f"The run pane could not start: {exc}").classes("text-sm text-red-600 p-4")
        return None
    return pane
