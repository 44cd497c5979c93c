"""The inspector: what is selected, and its settings.

One node: label, config form (from the type's JSON Schema), cache strategy and policy, each
in a tab, with the node's problems on top. A parallel group: label, join node (discovered or
chosen), members. Several nodes: group or delete them. Nothing: the flow's own settings.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from editor.graph import EditError, FlowDraft, ProblemIndex, type_title
from editor.theme import category_color

from .cache_editor import CacheEditor
from .form import ConfigForm
from .policy_editor import PolicyEditor
from .schema import form_fields


@dataclass
class InspectorActions:
    """What the inspector asks the page to do (the page owns the canvas)."""

    select_nodes: Callable[[list[str]], Any]
    group_selected: Callable[[], Any]
    delete_selected: Callable[[], Any]


class Inspector:
    def __init__(self, draft: FlowDraft, on_edit: Callable[[], None], actions: InspectorActions,
                 flow_choices: dict[str, str] | None = None, knowledge_choices: dict[str, str] | None = None) -> None:
        self.draft, self.on_edit, self.actions = draft, on_edit, actions
        self.flow_choices = flow_choices or {}  # the tenant's other flows, for sub-flow fields
        self.knowledge_choices = knowledge_choices or {}  # the tenant's knowledge bases, for retrieval nodes
        self.problems = ProblemIndex()
        self.target: tuple[str, Any] = ("flow", None)
        self.tab = "config"
        self._schemas: dict[str, dict[str, Any]] = {}
        self._editors: list[Any] = []
        self._problem_box: ui.column | None = None
        self.container = ui.column().classes("akis-inspector w-full gap-3 no-wrap").props("data-testid=inspector")
        self.rebuild()

    # ---------- what to show ----------
    def show_node(self, node_id: str) -> None:
        self._show(("node", node_id))

    def show_group(self, group_id: str) -> None:
        self._show(("group", group_id))

    def show_selection(self, node_ids: list[str]) -> None:
        if len(node_ids) == 1:
            self.show_node(node_ids[0])
        elif node_ids:
            self._show(("nodes", tuple(node_ids)))
        else:
            self._show(("flow", None))

    def _show(self, target: tuple[str, Any]) -> None:
        if target != self.target:
            self.target = target
            self.rebuild()

    def rebuild(self) -> None:
        """Draw the current target again from the draft (after undo, redo or a canvas edit)."""
        kind, value = self.target
        doc = self.draft.document
        if (kind == "node" and doc.node(value) is None) or (kind == "group" and not any(
                g.id == value for g in doc.parallel_groups)):
            self.target = kind, value = ("flow", None)
        if kind == "nodes":
            value = tuple(v for v in value if doc.node(v) is not None)
            self.target = (kind, value)
        self.container.clear()
        self._editors = []
        self._problem_box = None
        with self.container:
            if kind == "node":
                self._node_view(value)
            elif kind == "group":
                self._group_view(value)
            elif kind == "nodes" and len(value) > 1:
                self._selection_view(list(value))
            else:
                self._flow_view()
        self.show_problems(self.problems)

    def show_problems(self, problems: ProblemIndex) -> None:
        """Refresh the inline errors and the problem list without redrawing the inputs."""
        self.problems = problems
        kind, value = self.target
        if kind == "node":
            errors = problems.field_errors(value)
            for editor in self._editors:
                editor.show_errors(errors)
            messages = [(m, False) for m in problems.node_messages(value)]
            messages += [(m, True) for m in problems.node_warnings(value)]
        elif kind == "group":
            messages = [(p.message, p.is_warning) for p in problems.by_group.get(value, [])]
        else:
            messages = []
        if self._problem_box is not None:
            self._problem_box.clear()
            with self._problem_box:
                for message, warning in messages:
                    colour, icon = ("text-amber-700", "warning_amber") if warning else ("text-red-600", "error_outline")
                    with ui.row().classes(f"items-start no-wrap gap-2 text-sm {colour}").props(
                            "data-testid=inspector-warning" if warning else "data-testid=inspector-problem"):
                        ui.icon(icon).classes("text-base mt-px")
                        ui.label(message)
            self._problem_box.visible = bool(messages)

    def _edited(self) -> None:
        self.on_edit()

    # ---------- views ----------
    def _node_view(self, node_id: str) -> None:
        node = self.draft.node(node_id)
        node_type = self.draft.node_type(node.type)
        category = node_type.category if node_type is not None else "other"
        with ui.row().classes("items-center no-wrap gap-3 w-full"):
            with ui.element("div").classes("akis-cat-dot").style(f"--akis-cat: {category_color(category)}"):
                ui.icon(node_type.icon if node_type is not None else "help_outline").classes("text-base")
            with ui.column().classes("gap-0 min-w-0"):
                title = type_title(node_type) if node_type is not None else node.type
                ui.label(title).classes("text-base font-semibold")
                ui.label(f"{node.id} · {node.type}").classes("text-xs akis-muted")
        if node_type is not None and node_type.description:
            ui.label(node_type.description).classes("text-sm akis-muted")
        self._problem_box = ui.column().classes("gap-1 w-full")
        label = ui.input("Label", value=node.label or "",
                         on_change=lambda e: self._write(self.draft.set_label, node_id, e.value or ""))
        label.props("outlined dense data-testid=node-label").classes("w-full").on("blur", lambda _: self.draft.seal())
        tabs = ui.tabs(value=self.tab,  # type: ignore[arg-type]  # NiceGUI takes a tab's name; its annotation omits str
                       on_change=lambda e: setattr(self, "tab", e.value))
        with tabs.props("dense no-caps align=left").classes("w-full"):
            ui.tab("config", "Config").props("data-testid=tab-config")
            ui.tab("cache", "Cache").props("data-testid=tab-cache")
            ui.tab("policy", "Policy").props("data-testid=tab-policy")
        with ui.tab_panels(tabs, value=self.tab).props("animated=false keep-alive").classes("w-full bg-transparent"):
            with ui.tab_panel("config").classes("p-0 pt-2 gap-3"):
                if node_type is None:
                    ui.label(f"Unknown node type {node.type!r}: install its plugin or replace the node.").classes(
                        "text-sm text-red-600")
                else:
                    specs = form_fields(self._schema(node.type), _defaults(node_type))
                    self._editors.append(ConfigForm(
                        specs, node.config,
                        lambda name, value, remove: self._write(self.draft.set_config_value, node_id, name, value,
                                                                remove=remove),
                        on_blur=self.draft.seal, flow_choices=self.flow_choices,
                        knowledge_choices=self.knowledge_choices))
            with ui.tab_panel("cache").classes("p-0 pt-2 gap-3"):
                self._editors.append(CacheEditor(self.draft, node_id, node_type, self._edited))
            with ui.tab_panel("policy").classes("p-0 pt-2 gap-3"):
                self._editors.append(PolicyEditor(self.draft, node_id, self._edited))

    def _group_view(self, group_id: str) -> None:
        group = self.draft.group(group_id)
        discovered = self.draft.discovered_join(group_id) if not group.join_at else None
        with ui.row().classes("items-center no-wrap gap-2"):
            ui.icon("call_split").classes("text-xl")
            ui.label("Parallel group").classes("text-base font-semibold")
            ui.label(group.id).classes("text-xs akis-muted")
        ui.label("Members run at the same time; the join node waits for all of them.").classes("text-sm akis-muted")
        self._problem_box = ui.column().classes("gap-1 w-full")
        ui.input("Label", value=group.label or "",
                 on_change=lambda e: self._write(self.draft.update_group, group_id, label=e.value or "")).props(
            "outlined dense data-testid=group-label").classes("w-full")
        labels = {n.id: f"{n.label or n.id} ({n.id})" for n in self.draft.document.nodes if n.id not in group.nodes}
        auto = "Automatic" + (f": {labels.get(discovered, discovered)}" if discovered else " (none found)")
        ui.select({"": auto, **labels}, label="Join node", value=group.join_at or "",
                  on_change=lambda e: self._write(self.draft.update_group, group_id, join_at=e.value or None)).props(
            "outlined dense data-testid=group-join").classes("w-full")
        ui.label("Members").classes("text-xs font-semibold uppercase akis-muted")
        for member in group.nodes:
            node = self.draft.document.node(member)
            with ui.row().classes("items-center no-wrap w-full gap-1"):
                name = (node.label or member) if node else member
                ui.button(name, on_click=lambda _, m=member: self.actions.select_nodes([m])).props(
                    "flat dense no-caps align=left").classes("grow")
                ui.button(icon="logout", on_click=lambda _, m=member: self._leave(m)).props(
                    "flat dense round size=sm").tooltip("Take out of the group")
        with ui.row().classes("gap-2"):
            ui.button("Select members", icon="select_all",
                      on_click=lambda: self.actions.select_nodes(list(group.nodes))).props("outline dense no-caps")
            ui.button("Ungroup", icon="call_merge",
                      on_click=lambda: self._write(self.draft.ungroup, group_id, rebuild=True)).props(
                "outline dense no-caps color=negative data-testid=ungroup")

    def _selection_view(self, node_ids: list[str]) -> None:
        ui.label(f"{len(node_ids)} nodes selected").classes("text-base font-semibold")
        for node_id in node_ids[:12]:
            node = self.draft.document.node(node_id)
            ui.label(f"{node.label or node_id} · {node.type}" if node else node_id).classes("text-sm akis-muted")
        if len(node_ids) > 12:
            ui.label(f"and {len(node_ids) - 12} more").classes("text-sm akis-muted")
        with ui.row().classes("gap-2"):
            ui.button("Group in parallel", icon="call_split", on_click=self.actions.group_selected).props(
                "unelevated dense no-caps data-testid=inspector-group")
            ui.button("Delete", icon="delete", on_click=self.actions.delete_selected).props(
                "outline dense no-caps color=negative")

    def _flow_view(self) -> None:
        doc = self.draft.document
        ui.label("Flow").classes("text-base font-semibold")
        ui.input("Name", value=doc.name, on_change=lambda e: self._write(self.draft.set_flow, name=e.value or "")) \
            .props("outlined dense data-testid=flow-name").classes("w-full")
        ui.textarea("Description", value=doc.description,
                    on_change=lambda e: self._write(self.draft.set_flow, description=e.value or "")) \
            .props("outlined dense autogrow").classes("w-full")
        ui.toggle({"parallel": "Parallel", "sequential": "Sequential"}, value=doc.settings.execution,
                  on_change=lambda e: self._write(self.draft.set_flow, execution=e.value)).props("dense no-caps")
        ui.label("Parallel starts every node as soon as its inputs are ready; sequential runs one node at a time.") \
            .classes("text-xs akis-muted")
        ui.label(f"{len(doc.nodes)} nodes · {len(doc.edges)} edges · {len(doc.parallel_groups)} parallel groups") \
            .classes("text-sm akis-muted")
        ui.separator()
        ui.label("Drag a node type from the palette onto the canvas, or click it. Select a node to edit it; "
                 "shift-click or shift-drag to select several.").classes("text-sm akis-muted")
        ui.label("Ctrl+S save · Ctrl+Z undo · Ctrl+Shift+Z redo · Ctrl+C / Ctrl+V copy and paste · Delete removes") \
            .classes("text-xs akis-muted")

    # ---------- helpers ----------
    def _write(self, operation: Callable[..., Any], *args: Any, rebuild: bool = False, **kwargs: Any) -> None:
        """Apply one edit; ``rebuild`` when it changes what this view lists (members, the group itself)."""
        try:
            operation(*args, **kwargs)
        except EditError as exc:
            ui.notify(str(exc), type="negative")
            return
        if rebuild:
            self.rebuild()
        self.on_edit()

    def _leave(self, member: str) -> None:
        self._write(self.draft.set_membership, [member], None, rebuild=True)

    def _schema(self, type_id: str) -> dict[str, Any]:
        if type_id not in self._schemas:
            node_type = self.draft.node_type(type_id)
            self._schemas[type_id] = node_type.describe()["config_schema"] if node_type is not None else {}
        return self._schemas[type_id]


def _defaults(node_type: Any) -> dict[str, Any]:
    """Defaults pydantic leaves out of the schema (``default_factory``), as JSON values."""
    out: dict[str, Any] = {}
    for name, info in node_type.Config.model_fields.items():
        if info.is_required():
            continue
        value = info.get_default(call_default_factory=True)
        out[name] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
