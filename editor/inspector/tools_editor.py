"""The inspector's editor of an agent's tools (``format: agent-tools``): a card per tool with
its name, kind, description and the settings its kind needs (a flow to run, an HTTP preset's
method and URL, the knowledge bases, how many products), or the whole list as JSON. Keys the
cards do not show (custom ``parameters``, headers, a body) are kept as they are."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from nicegui import ui

from runtime.agents.tools import DEFAULT_DESCRIPTIONS

from .schema import parse_json, show_json

KINDS = list(DEFAULT_DESCRIPTIONS)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def new_tool(tools: list[dict[str, Any]], kind: str = "product_search") -> dict[str, Any]:
    """A tool of ``kind`` named after it, the name not taken yet."""
    taken = {t.get("name") for t in tools}
    name = next(n for n in (kind, *(f"{kind}_{i}" for i in range(2, len(tools) + 3))) if n not in taken)
    return {"name": name, "kind": kind}


def with_kind(tool: dict[str, Any], kind: str) -> dict[str, Any]:
    """The tool as another kind: name and description kept, the old kind's settings dropped."""
    kept = {k: v for k, v in tool.items() if k in ("name", "description")}
    return {**kept, "kind": kind}


def set_path(tool: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``tool[a][b]`` (made on the way); an empty value removes the key instead."""
    target = tool
    for key in path[:-1]:
        target = target.setdefault(key, {})
    if value in (None, "", []):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    if path[0] == "config" and not tool.get("config"):
        tool.pop("config", None)


def flow_select(label: str, value: Any, choices: dict[str, str], on_change: Callable[[str | None], None]) -> ui.select:
    """A flow id: one of the tenant's other flows, or one typed (a flow not saved yet)."""
    options = dict(choices)
    if isinstance(value, str) and value and value not in options:
        options[value] = value
    select = ui.select(options, label=label, value=value if value in options else None, with_input=True,
                       new_value_mode="add-unique", on_change=lambda e: on_change(e.value or None))
    return select.props("dense outlined options-dense")


def knowledge_select(label: str, value: Any, choices: dict[str, str],
                     on_change: Callable[[list[str]], None]) -> ui.select:
    """Knowledge base ids: the tenant's bases by name, several at once; an id typed by hand (a base
    not created yet) is kept, and a run names it if it still does not exist."""
    chosen = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    options = dict(choices) | {v: v for v in chosen if v not in choices}
    select = ui.select(options, label=label, value=chosen, multiple=True, with_input=True,
                       new_value_mode="add-unique", on_change=lambda e: on_change(list(e.value or [])))
    # chips that shorten with an ellipsis: a long "name (id)" must not widen the inspector
    select.add_slot("selected-item", r'''<q-chip dense removable :tabindex="props.tabindex" class="q-my-xs"
        style="max-width: 100%" @remove="props.removeAtIndex(props.index)">
        <div class="ellipsis" style="max-width: 220px" :title="props.opt.label">{{ props.opt.label }}</div></q-chip>''')
    return select.props("dense outlined options-dense").style("min-width: 0")


class ToolsEditor(ui.column):
    def __init__(self, label: str, value: Any, on_change: Callable[[Any], None], hint: str = "",
                 flow_choices: dict[str, str] | None = None) -> None:
        super().__init__()
        self.classes("gap-1 w-full")
        self.on_change = on_change
        self.flow_choices = flow_choices or {}
        self.tools: list[dict[str, Any]] = [dict(t) for t in value if isinstance(t, dict)] \
            if isinstance(value, list) else []
        self.as_json = isinstance(value, list) and len(self.tools) != len(value)
        with self:
            with ui.row().classes("items-center justify-between w-full no-wrap"):
                ui.label(label).classes("text-sm font-medium")
                self.json_switch = ui.switch("JSON", value=self.as_json, on_change=lambda e: self._mode(e.value))
                self.json_switch.props("dense data-testid=tools-json")
            self.body = ui.column().classes("gap-2 w-full")
            self.error_label = ui.label("").classes("text-xs text-negative").props("data-testid=tools-error")
            self.error_label.visible = False
            if hint:
                ui.label(hint).classes("text-xs akis-muted")
        self._draw()

    # ---------- drawing ----------
    def _draw(self) -> None:
        self.body.clear()
        with self.body:
            if self.as_json:
                area = ui.textarea(value=show_json(self.tools), on_change=lambda e: self._json(e.value))
                area.props("outlined dense autogrow data-testid=tools-text").classes("w-full akis-mono")
                return
            for index, tool in enumerate(self.tools):
                self._card(index, tool)
            ui.button("Add tool", icon="add", on_click=self._add).props(
                "flat dense no-caps data-testid=tools-add").classes("self-start")

    def _card(self, index: int, tool: dict[str, Any]) -> None:
        kind = str(tool.get("kind", "product_search"))
        with ui.column().classes("gap-1 w-full min-w-0 q-pa-sm rounded-borders").style(
                "border: 1px solid rgba(128,128,128,.35)").props(f"data-testid=tool-{index}"):
            with ui.row().classes("items-center gap-1 w-full no-wrap"):
                self._input(index, tool, "name", ("name",), "name the model calls", "grow min-w-0")
                ui.select(KINDS, value=kind if kind in KINDS else None,
                          on_change=lambda e, i=index: self._kind(i, e.value)) \
                    .props(f"dense outlined options-dense data-testid=tool-kind-{index}").style("width: 10.5rem")
                ui.button(icon="close", on_click=lambda _, i=index: self._remove(i)) \
                    .props(f"flat dense round size=sm data-testid=tool-remove-{index}").tooltip("Remove the tool")
            self._input(index, tool, "description", ("description",), DEFAULT_DESCRIPTIONS.get(kind, ""), "w-full")
            with ui.row().classes("items-center gap-1 w-full no-wrap"):
                if kind == "flow":
                    chosen = partial(self._set, index, ("flow_id",))
                    flow_select("flow", tool.get("flow_id"), self.flow_choices, chosen) \
                        .props(f"data-testid=tool-flow-{index}").classes("grow min-w-0")
                    self._number(index, tool, "version", ("version",), "version (current)")
                elif kind == "http_request":
                    config = tool.get("config") or {}
                    ui.select(METHODS, value=config.get("method", "GET"),
                              on_change=lambda e, i=index: self._set(i, ("config", "method"),
                                                                      None if e.value == "GET" else e.value)) \
                        .props(f"dense outlined options-dense data-testid=tool-method-{index}").style("width: 6.5rem")
                    self._input(index, tool, "url", ("config", "url"), "https://api.example.com/stock/{sku}",
                                "grow min-w-0")
                elif kind == "knowledge_retrieval":
                    bases = (tool.get("config") or {}).get("knowledge_bases") or []
                    ui.input_chips("knowledge bases", value=list(bases), new_value_mode="add-unique",
                                   on_change=lambda e, i=index: self._set(i, ("config", "knowledge_bases"),
                                                                           list(e.value or []))) \
                        .props(f"dense outlined data-testid=tool-bases-{index}").classes("grow min-w-0")
                else:
                    self._number(index, tool, "limit", ("config", "limit"), "results (5)")
            if tool.get("parameters") is not None:
                count = len((tool["parameters"] or {}).get("properties") or {})
                ui.label(f"{count} argument(s) of its own schema: edit them as JSON").classes("text-xs akis-muted")

    def _input(self, index: int, tool: dict[str, Any], testid: str, path: tuple[str, ...], placeholder: str,
               classes: str) -> None:
        value = tool
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None  # type: ignore[assignment]  # walks dicts
        ui.input(placeholder=placeholder, value="" if value is None else str(value),
                 on_change=lambda e, i=index: self._set(i, path, e.value)) \
            .props(f"dense outlined data-testid=tool-{testid}-{index}").classes(classes)

    def _number(self, index: int, tool: dict[str, Any], testid: str, path: tuple[str, ...], placeholder: str) -> None:
        value = tool
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None  # type: ignore[assignment]  # walks dicts
        ui.number(label=placeholder, value=value if isinstance(value, (int, float)) else None, min=1,
                  precision=0, on_change=lambda e, i=index: self._set(i, path, None if e.value is None
                                                                        else int(e.value))) \
            .props(f"dense outlined data-testid=tool-{testid}-{index}").style("width: 9rem")

    # ---------- changes ----------
    def _set(self, index: int, path: tuple[str, ...], value: Any) -> None:
        set_path(self.tools[index], path, value)
        self._write()

    def _kind(self, index: int, kind: str | None) -> None:
        if kind is None:
            return
        self.tools[index] = with_kind(self.tools[index], kind)
        self._write()
        self._draw()

    def _add(self) -> None:
        self.tools.append(new_tool(self.tools))
        self._write()
        self._draw()

    def _remove(self, index: int) -> None:
        del self.tools[index]
        self._write()
        self._draw()

    def _write(self) -> None:
        self.on_change([dict(t) for t in self.tools])

    def _json(self, text: str | None) -> None:
        value, error = parse_json(text or "")
        if error or not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.show_error(error or "the tools must be a JSON list of objects")
            return
        self.show_error(None)
        self.tools = [dict(t) for t in value]
        self.on_change(value)

    def _mode(self, as_json: bool) -> None:
        self.as_json = as_json
        self._draw()

    def show_error(self, message: str | None) -> None:
        self.error_label.text = message or ""
        self.error_label.visible = bool(message)
