"""Version history of a flow: every saved version, a readable diff of any two, and restore.

Restore loads the old version into the editor as an unsaved (and undoable) change; saving it
then makes a new version, so history is never rewritten.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from editor.graph import Change, diff_documents
from runtime.flow.model import FlowDocument

from .evaluate_menu import dataset_choices, evaluate_button
from .experiment_create import experiment_bar

DRAFT = "draft"


def ago(moment: datetime | None) -> str:
    """``"3 min ago"``: how people read recent history."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, (datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"


def render_changes(changes: list[Change]) -> None:
    """The diff as a list: one line per node, edge, group or setting, details below it."""
    if not changes:
        ui.label("No differences.").classes("text-sm akis-muted").props("data-testid=diff-empty")
        return
    icons = {"added": "add_circle", "removed": "remove_circle", "changed": "change_circle"}
    for change in changes:
        with ui.row().classes("items-start no-wrap gap-2 w-full").props("data-testid=diff-row"):
            ui.icon(icons.get(change.kind, "circle")).classes(f"akis-diff-{change.kind} text-lg")
            with ui.column().classes("gap-0 min-w-0"):
                subject = f" {change.subject}" if change.subject else ""
                ui.label(f"{change.kind.capitalize()} {change.what}{subject}").classes("text-sm font-medium")
                for detail in change.details:
                    ui.label(detail).classes("text-xs akis-mono akis-muted").style("word-break: break-word")


async def open_versions(session: Any) -> None:
    """The history dialog for the session's flow."""
    rows = await session.context.flows.versions(session.tenant, session.flow_id)
    documents = {r.version: r.document for r in rows}
    current = session.draft.version
    options: dict[Any, str] = {}
    if session.draft.dirty:
        options[DRAFT] = "Unsaved changes"
    for row in rows:
        options[row.version] = f"v{row.version}" + (" (current)" if row.version == current else "")

    def document(key: Any) -> FlowDocument:
        if key == DRAFT:
            return session.draft.document
        return FlowDocument.model_validate(documents[key])

    with ui.dialog() as dialog, ui.card().classes("w-[960px] max-w-[95vw]").style("max-height: 85vh"):
        with ui.row().classes("items-center w-full"):
            ui.label(f"Versions of {session.draft.document.name or session.flow_id}").classes("text-lg font-semibold")
            ui.space()
            ui.button(icon="close", on_click=dialog.close).props("flat round dense")
        await experiment_bar(session.context, session.tenant, session.flow_id, list(documents), current)
        datasets = await dataset_choices(session.context, session.tenant)  # for each version's Evaluate
        with ui.row().classes("w-full no-wrap gap-4 items-stretch").style("min-height: 0; flex: 1"):
            with ui.scroll_area().classes("w-[340px]").style("height: 60vh"):
                for row in rows:
                    with ui.card().props("flat bordered").classes("w-full p-2 gap-1").props(
                            f"data-testid=version-{row.version}"):
                        with ui.row().classes("items-center gap-2 no-wrap"):
                            ui.label(f"v{row.version}").classes("font-semibold")
                            if row.version == current:
                                ui.badge("current").props("outline")
                            ui.label(ago(row.created_at)).classes("text-xs akis-muted")
                        if row.comment:
                            ui.label(row.comment).classes("text-sm")
                        with ui.row().classes("gap-1"):
                            ui.button("Compare", on_click=lambda _, v=row.version: pick(v)).props(
                                f"flat dense no-caps size=sm data-testid=compare-{row.version}")
                            ui.button("Restore", on_click=lambda _, v=row.version: restore(v)).props(
                                f"flat dense no-caps size=sm data-testid=restore-{row.version}").set_enabled(
                                row.version != current or session.draft.dirty)
                            evaluate_button(session.context, session.tenant, session.flow_id, row.version, current,
                                            datasets)
            with ui.column().classes("grow min-w-0 gap-2"):
                keys = list(options)
                newer = keys[0] if keys else None
                older = keys[1] if len(keys) > 1 else newer
                with ui.row().classes("items-center gap-2 no-wrap"):
                    old_select = ui.select(options, label="From", value=older, on_change=lambda _: show()).props(
                        "outlined dense data-testid=diff-from").classes("w-48")
                    ui.icon("arrow_forward")
                    new_select = ui.select(options, label="To", value=newer, on_change=lambda _: show()).props(
                        "outlined dense data-testid=diff-to").classes("w-48")
                with ui.scroll_area().style("height: 52vh").classes("w-full"):
                    diff_box = ui.column().classes("w-full gap-2").props("data-testid=diff")

    def show() -> None:
        diff_box.clear()
        with diff_box:
            if old_select.value is None or new_select.value is None:
                ui.label("Save the flow to start its history.").classes("text-sm akis-muted")
                return
            render_changes(diff_documents(document(old_select.value), document(new_select.value)))

    def pick(version: int) -> None:
        """Compare a version with the one after it (or with the newest when it is the newest)."""
        position = keys.index(version)
        new_select.value = keys[position - 1] if position > 0 else keys[0]
        old_select.value = version if position > 0 else (keys[1] if len(keys) > 1 else version)

    def restore(version: int) -> None:
        session.apply_document(document(version))
        dialog.close()
        ui.notify(f"Version {version} loaded as unsaved changes: save to make it the current version")

    show()
    dialog.open()
