"""One open flow editor: the draft, the canvas and the inspector, kept in step.

Every gesture on the canvas and every change in the inspector becomes one edit of the
:class:`FlowDraft`; after it the flow is validated again and the canvas gets only what changed
(small ``update_node`` patches when only badges, labels or problems changed, a full send when
nodes, edges or groups did). Unsaved work is kept per browser in ``app.storage.user`` so it
survives a reload; Save writes a new version.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import app, ui

from editor.canvas import CanvasEventArguments, FlowCanvas
from editor.canvas.model import normalize_edge, normalize_group, normalize_node, normalize_note
from editor.context import AkisContext
from editor.desktop.files import save_file
from editor.graph import EditError, FlowDraft, ProblemIndex, canvas_props, check
from editor.graph.layout import NODE_SIZE, Box, free_spot, inside
from editor.graph.notes import NOTE_PREFIX, NOTE_SIZE, NOTE_TYPE, note_props, split_ids
from editor.services.errors import DATABASE_ERRORS, FlowProblems, ServiceError
from runtime.errors import Problem
from runtime.flow.model import FlowDocument

log = logging.getLogger("akis.editor")
MAP_STRIP_PX = 170  # the canvas's bottom strip holds the zoom controls and the minimap
PATCH_LIMIT = 40  # more changed nodes than this: one full send is cheaper than many patches


def draft_key(tenant: str, flow_id: str) -> str:
    return f"draft:{tenant}:{flow_id}"


def load_draft(tenant: str, flow_id: str) -> dict[str, Any] | None:
    """The unsaved work this browser kept for the flow: ``{base_version, document, saved_at}``."""
    try:
        value = app.storage.user.get(draft_key(tenant, flow_id))
    except (RuntimeError, AssertionError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("document"), dict) else None


class EditorSession:
    """State and behaviour of one editor page; the page module only lays it out."""

    def __init__(self, context: AkisContext, tenant: str, document: FlowDocument, version: int | None,
                 kept: dict[str, Any] | None = None) -> None:
        self.context, self.tenant = context, tenant
        self.flow_id = str(document.flow_id)
        self.restored_from: dict[str, Any] | None = None
        start = document
        if kept is not None:
            try:
                start = FlowDocument.model_validate(kept["document"])
                self.restored_from = kept
            except (KeyError, TypeError, ValueError):  # a draft from an older format: drop it, keep the page
                log.warning("discarded an unreadable draft of flow %s", self.flow_id)
                self._forget_draft()
        self.draft = FlowDraft(document, context.registry, tenant, version=version)
        if start is not document:  # the kept work is one undo step over the saved version
            self.draft.replace_document(start)
        self.problems: ProblemIndex = check(self.draft.document, context.registry, tenant)
        self.selection: list[str] = []
        self.canvas: FlowCanvas | None = None
        self.inspector: Any = None
        self.listeners: list[Callable[[], None]] = []  # status bar, toolbar, problem list
        self._persist_pending = False
        self._pastes, self._last_pasted = 0, None

    # ---------- canvas ----------
    def initial_props(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        return canvas_props(self.draft.document, self.context.registry, self.tenant, self.problems)

    def attach(self, canvas: FlowCanvas) -> None:
        self.canvas = canvas
        canvas.on_node_moved(self.on_node_moved)
        canvas.on_connect(self.on_connect)
        canvas.on_selection_change(self.on_selection_change)
        canvas.on_delete_request(self.on_delete_request)
        canvas.on_palette_drop(self.on_palette_drop)
        canvas.on_shortcut(self.on_shortcut)
        canvas.on_group_click(lambda e: self.inspector.show_group(e.args.get("id")) if self.inspector else None)
        canvas.on_node_click(self.on_node_click)
        canvas.on_note_change(self.on_note_change)
        canvas.set_graph(notes=note_props(self.draft.document))

    def sync_canvas(self) -> None:
        """Send the canvas what differs from what it shows."""
        canvas = self.canvas
        if canvas is None:
            return
        raw_nodes, raw_edges, raw_groups = self.initial_props()
        nodes = [normalize_node(n) for n in raw_nodes]
        edges = [normalize_edge(e) for e in raw_edges]
        groups = [normalize_group(g) for g in raw_groups]
        current = canvas.nodes
        live = {n["id"]: n["data"] for n in current}
        for item in nodes:  # a run's status on a node (set by the run pane, never by an edit) stays
            shown = live.get(item["id"])
            if shown is not None:
                data = item["data"]
                data["status"], data["duration_ms"] = shown["status"], shown["duration_ms"]
                data["error"] = shown["error"]
        same_nodes = len(nodes) == len(current) and all(
            (a["id"], a["type"], a["position"]) == (b["id"], b["type"], b["position"])
            for a, b in zip(nodes, current, strict=True))
        changed = [n for n, c in zip(nodes, current, strict=True) if n != c] if same_nodes else []
        notes = [normalize_note(n) for n in note_props(self.draft.document)]
        if notes != canvas.notes:
            canvas.set_graph(notes=notes)
        if same_nodes and len(changed) <= PATCH_LIMIT:
            for node in changed:
                canvas.update_node(node["id"], {**node["data"], "label": node["label"]})
            if edges != canvas.edges or groups != canvas.groups:
                canvas.set_graph(edges=edges, groups=groups)
        else:
            canvas.set_graph(nodes, edges, groups)

    # ---------- after every edit ----------
    def after_edit(self, rebuild_inspector: bool = True) -> None:
        self.problems = check(self.draft.document, self.context.registry, self.tenant)
        self.sync_canvas()
        if self.inspector is not None:
            if rebuild_inspector:
                self.inspector.rebuild()
            self.inspector.show_problems(self.problems)
        self._persist_pending = True
        self.notify_listeners()

    def notify_listeners(self) -> None:
        for listener in list(self.listeners):
            listener()

    def edit(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a draft operation; a refused edit is shown to the person, never raised."""
        try:
            result = operation(*args, **kwargs)
        except EditError as exc:
            ui.notify(str(exc), type="warning")
            self.sync_canvas()  # the canvas may show what was refused (a drawn edge): take it back
            return None
        self.after_edit()
        return result

    # ---------- canvas events ----------
    def on_node_moved(self, e: CanvasEventArguments) -> None:
        moves = {m["id"]: (float(m["x"]), float(m["y"])) for m in e.args.get("moves", []) if "id" in m}
        self.edit(self.draft.drop_nodes, moves, e.args.get("group"))

    def on_connect(self, e: CanvasEventArguments) -> None:
        self.edit(self.draft.connect, e.args["source"], e.args["target"], e.args.get("sourceHandle") or None)

    def on_selection_change(self, e: CanvasEventArguments) -> None:
        self.selection = split_ids(e.args.get("nodes", []))[0]  # sticky notes have no form
        if self.inspector is not None:
            self.inspector.show_selection(self.selection)
        self.notify_listeners()

    def on_node_click(self, e: CanvasEventArguments) -> None:
        """A plain click on the node already selected brings its form back (the inspector may be
        showing its group since); a click that changes the selection arrives as ``selection_change``."""
        node_id = e.args.get("id")
        if not e.args.get("multi") and self.selection == [node_id] and self.inspector is not None:
            self.inspector.show_selection(self.selection)

    def on_delete_request(self, e: CanvasEventArguments) -> None:
        self.edit(self.draft.delete, e.args.get("nodes", []), e.args.get("edges", []))

    def on_note_change(self, e: CanvasEventArguments) -> None:
        note_id = str(e.args.get("id", "")).removeprefix(NOTE_PREFIX)
        if "text" in e.args:
            self.edit(self.draft.set_note_text, note_id, str(e.args["text"]))
            self.draft.seal()  # the next edit of the note is its own undo step
        if "width" in e.args or "height" in e.args:
            self.edit(self.draft.set_note_box, note_id, width=e.args.get("width"), height=e.args.get("height"))
        if "color" in e.args:
            self.edit(self.draft.set_note_color, note_id, str(e.args["color"]))

    def on_palette_drop(self, e: CanvasEventArguments) -> None:
        if e.args.get("type") == NOTE_TYPE:
            self.edit(self.draft.add_note, float(e.args["x"]) - 130, float(e.args["y"]) - 24)
            return
        node_id = self.edit(self.draft.add_node, e.args["type"], float(e.args["x"]), float(e.args["y"]), centred=True)
        if node_id:
            self.select_later([node_id])

    def on_shortcut(self, e: CanvasEventArguments) -> Any:
        action = e.args.get("action")
        handlers: dict[str, Callable[[], Any]] = {
            "undo": self.undo, "redo": self.redo, "copy": self.copy, "paste": self.paste, "save": self.save,
            "select_all": lambda: self.select_later([n.id for n in self.draft.document.nodes], delay=0),
        }
        handler = handlers.get(str(action))
        return handler() if handler else None

    # ---------- actions ----------
    async def add_from_palette(self, type_id: str) -> None:
        """A palette click: place the node in free space right of the selection (or of the whole
        flow), on screen where there is room; if it lands off screen the view moves to it."""
        doc = self.draft.document
        picked = [self.draft.position(n) for n in self.selection if doc.node(n)]
        anchor = max(picked, key=lambda a: a[0]) if picked else None
        taken: list[Box] = [(*self.draft.position(n.id), *NODE_SIZE) for n in doc.nodes]
        taken += [(n.x, n.y, float(n.width), float(n.height)) for n in doc.notes]
        view = await self._view()
        size = (float(NOTE_SIZE[0]), float(NOTE_SIZE[1])) if type_id == NOTE_TYPE else NODE_SIZE
        x, y = free_spot(anchor, taken, view, size)
        if type_id == NOTE_TYPE:
            self.edit(self.draft.add_note, x, y)
        elif node_id := self.edit(self.draft.add_node, type_id, x, y):
            self.select_later([node_id])
        if self.canvas is not None and view is not None and not inside(view, (x, y, *size)):
            self.canvas.set_center(x + size[0] / 2, y + size[1] / 2)

    async def _view(self) -> Box | None:
        """The visible part of the canvas in flow coordinates (x, y, width, height), if the browser says."""
        if self.canvas is None or not self.canvas.is_ready:
            return None
        try:
            port = await self.canvas.get_viewport()
        except TimeoutError:
            return None
        if not isinstance(port, dict) or not port.get("zoom") or not port.get("width"):
            return None
        zoom = float(port["zoom"])
        usable = max(float(port["height"]) - MAP_STRIP_PX, float(port["height"]) / 2)  # not under the minimap
        return (-float(port["x"]) / zoom, -float(port["y"]) / zoom, float(port["width"]) / zoom, usable / zoom)

    def select_later(self, node_ids: list[str], delay: float = 0.15) -> None:
        """Select once the canvas has drawn the nodes (it applies new props on its next tick)."""
        def select() -> None:
            if self.canvas is not None:
                self.canvas.select_nodes(node_ids)
            self.selection = list(node_ids)
            if self.inspector is not None:
                self.inspector.show_selection(self.selection)
        if delay <= 0:
            select()
        else:
            ui.timer(delay, select, once=True)

    def undo(self) -> None:
        if self.draft.undo():
            self.after_edit()

    def redo(self) -> None:
        if self.draft.redo():
            self.after_edit()

    def auto_layout(self) -> None:
        self.edit(self.draft.auto_layout)
        if self.canvas is not None:
            ui.timer(0.15, lambda: self.canvas.fit_view() if self.canvas else None, once=True)

    def group_selected(self) -> None:
        group_id = self.edit(self.draft.make_group, list(self.selection))
        if group_id and self.inspector is not None:
            self.inspector.show_group(group_id)

    def delete_selected(self) -> None:
        picked = self.canvas.selection if self.canvas is not None else {"nodes": [], "edges": []}
        notes = [f"{NOTE_PREFIX}{n}" for n in split_ids(picked.get("nodes", []))[1]]
        if picked.get("edges") and not self.selection and not notes:
            self.edit(self.draft.delete, [], picked["edges"])
        elif self.selection or notes:
            self.edit(self.draft.delete, [*self.selection, *notes], picked.get("edges", []))
        else:
            ui.notify("Select the nodes or edges to delete first.")

    def copy(self) -> None:
        clipboard = self.draft.copy(self.selection)
        if clipboard is None:
            ui.notify("Select the nodes to copy first.")
            return
        app.storage.user["clipboard"] = clipboard
        ui.notify(f"Copied {len(clipboard['nodes'])} node(s)")

    def paste(self) -> None:
        """Paste the copied nodes; pasting again shifts each copy further, so none hides another."""
        clipboard = app.storage.user.get("clipboard")
        self._pastes = self._pastes + 1 if clipboard == self._last_pasted else 1
        self._last_pasted = clipboard
        new_ids = self.edit(self.draft.paste, clipboard, (40 * self._pastes, 40 * self._pastes))
        if new_ids:
            self.select_later(new_ids)
        elif new_ids is not None:
            ui.notify("Nothing to paste: copy nodes first (Ctrl+C).")

    def snapshot(self) -> FlowDocument:
        """A copy of the flow as it is now, for a run: later edits do not change a running flow."""
        return FlowDocument.model_validate(self.draft.document.dump())

    def apply_document(self, document: FlowDocument | dict[str, Any]) -> None:
        """Replace the whole flow as one unsaved, undoable edit (the run pane's fix, a restored version)."""
        new = document if isinstance(document, FlowDocument) else FlowDocument.model_validate(document)
        if str(new.flow_id) != self.flow_id:
            new = FlowDocument.model_validate({**new.dump(), "flow_id": self.flow_id})
        self.edit(self.draft.replace_document, new)

    async def save(self, comment: str | None = None) -> int | None:
        document = FlowDocument.model_validate(self.draft.document.dump())
        flows = self.context.flows
        try:
            before = (await flows.read(self.tenant, self.flow_id)).current_version
            version = (await flows.save_version(self.tenant, self.flow_id, document, comment, draft=True)).version
        except FlowProblems as exc:  # only what would not read back stops a draft's save
            log.info("flow %s not saved: %s", self.flow_id, exc.detail)
            ui.notify(f"Not saved: {'; '.join(p.message for p in exc.problems) or exc.detail}", type="negative")
            return None
        except ServiceError as exc:  # gone meanwhile, or saved by someone else at the same moment
            ui.notify(f"Not saved: {exc.detail}", type="negative")
            return None
        except DATABASE_ERRORS as exc:  # a database that went away: said on the page, not a traceback
            log.warning("saving flow %s failed: %s", self.flow_id, exc)
            ui.notify(f"Not saved: {exc}", type="negative")
            return None
        opened = self.draft.version
        self.draft.mark_saved(version)
        self.restored_from = None
        self._forget_draft()
        count = len(self.problems)
        message = f"Saved version {version}" + (f" with {count} problem{'s' * (count != 1)} to fix" if count else "")
        ui.notify(message, type="warning" if count else "positive")
        if before is not None and opened is not None and before != opened:
            ui.notify(f"Version {before} was saved elsewhere after you opened version {opened}: "
                      "compare them in Versions", type="warning", timeout=8000)
        self.notify_listeners()
        return version

    async def export(self) -> None:
        """A download in the browser; the Save dialog in the desktop window."""
        data = self.draft.document.dump_json().encode("utf-8")
        await save_file(data, f"{self.flow_id}.json")

    def discard_changes(self) -> None:
        """Back to the saved version (undoable until the page is left)."""
        self.edit(self.draft.replace_document, self.draft.saved_document)
        self.restored_from = None
        self._forget_draft()

    def select_problem(self, problem: Problem) -> None:
        target = self.problems.target_of(problem)
        if target is not None:
            self.select_later([target], delay=0)
            x, y = self.draft.position(target)
            if self.canvas is not None:
                self.canvas.set_center(x + 116, y + 32)
        elif problem.group_id and self.inspector is not None:
            self.inspector.show_group(problem.group_id)

    # ---------- unsaved work ----------
    def persist_draft(self) -> None:
        """Keep unsaved work in this browser's storage (called by a timer, not on every keystroke)."""
        if not self._persist_pending:
            return
        self._persist_pending = False
        try:
            if self.draft.dirty:
                app.storage.user[draft_key(self.tenant, self.flow_id)] = {
                    "base_version": self.draft.version, "document": self.draft.document.dump(),
                    "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            else:
                self._forget_draft()
        except (RuntimeError, AssertionError) as exc:
            log.warning("unsaved changes not kept: %s", exc)

    def _forget_draft(self) -> None:
        with contextlib.suppress(RuntimeError, AssertionError):  # no user storage (outside a page)
            app.storage.user.pop(draft_key(self.tenant, self.flow_id), None)
