"""The config form of one node, generated from its type's JSON Schema.

Each field writes through ``on_change(name, value, remove)`` as the person types; ``remove``
means "back to the type's default". Problems found by validation are shown under the field they
name (``show_errors``), next to what this form itself refuses (JSON that does not parse).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.validation_element import ValidationElement

from .schema import UNSET, FieldSpec, parse_json, show_json, shown_kind
from .schema_editor import SchemaEditor
from .tools_editor import ToolsEditor, flow_select, knowledge_select

OnChange = Callable[[str, Any, bool], None]


class ConfigForm:
    """Inputs for every config field of one node, built in the current container."""

    def __init__(self, specs: list[FieldSpec], values: dict[str, Any], on_change: OnChange,
                 on_blur: Callable[[], None] | None = None, flow_choices: dict[str, str] | None = None,
                 knowledge_choices: dict[str, str] | None = None) -> None:
        self.specs = {s.name: s for s in specs}
        self.flow_choices = flow_choices or {}  # id -> label: a flow id field's options
        self.knowledge_choices = knowledge_choices or {}  # id -> label: the tenant's knowledge bases
        self.on_change = on_change
        self.on_blur = on_blur
        self.inputs: dict[str, ui.element] = {}
        self._local_errors: dict[str, str] = {}
        self._values = dict(values)  # what is set now: decides which conditional fields are shown
        self._defaults = {s.name: s.default for s in specs if s.default is not UNSET}
        if not specs:
            ui.label("This node type has no settings.").classes("text-sm akis-muted")
        for spec in specs:
            value = values.get(spec.name, UNSET)
            self.inputs[spec.name] = self._build(spec, value)
        self._show_conditional()

    # ---------- building ----------
    def _build(self, spec: FieldSpec, value: Any) -> ui.element:
        shown = value if value is not UNSET else (spec.default if spec.default is not UNSET else None)
        kind = shown_kind(spec, shown)
        label = spec.title + (" *" if spec.required else "")
        if kind == "switch":
            element: ui.element = ui.switch(label, value=bool(shown), on_change=lambda e: self._set(spec, e.value))
        elif kind == "choice":
            options = list(spec.choices) + ([None] if spec.nullable and None not in spec.choices else [])
            element = ui.select(options, label=label, value=shown if shown in options else None,
                                on_change=lambda e: self._set(spec, e.value)).props("outlined dense options-dense")
        elif kind in ("integer", "number"):
            element = ui.number(label, value=shown, min=spec.minimum if not spec.exclusive_minimum else None,
                                max=spec.maximum, step=1 if kind == "integer" else None,
                                precision=0 if kind == "integer" else None,
                                on_change=lambda e: self._set_number(spec, e.value)).props("outlined dense")
        elif kind == "words":
            element = ui.input_chips(label, value=list(shown or []), new_value_mode="add-unique",
                                     on_change=lambda e: self._set(spec, list(e.value or []))).props("outlined dense")
        elif kind == "schema":
            element = SchemaEditor(label, shown, lambda value: self._set(spec, value), spec.help_text())
        elif kind == "tools":
            element = ToolsEditor(label, shown, lambda value: self._set(spec, value), spec.help_text(),
                                  flow_choices=self.flow_choices)
        elif kind == "flow":
            element = flow_select(label, shown, self.flow_choices, lambda value: self._set_text(spec, value))
        elif kind == "knowledge":
            element = knowledge_select(label, shown, self.knowledge_choices,
                                       lambda value: self._set(spec, value))
        elif kind == "json":
            element = ui.textarea(label, value=show_json(shown),
                                  on_change=lambda e: self._set_json(spec, e.value)).props("outlined dense autogrow")
            element.classes("akis-mono")
        elif kind == "template":
            element = ui.textarea(label, value="" if shown is None else str(shown),
                                  on_change=lambda e: self._set_text(spec, e.value)).props("outlined dense autogrow")
            element.classes("akis-mono")
        else:
            element = ui.input(label, value="" if shown is None else str(shown),
                               on_change=lambda e: self._set_text(spec, e.value)).props("outlined dense")
            if isinstance(shown, str) and "{{" in shown:
                element.classes("akis-mono")
        element.classes("w-full").props(f"data-testid=field-{spec.name} data-field={spec.name}")
        if isinstance(element, ValidationElement):
            element.without_auto_validation()  # else NiceGUI clears the error we show after each change
        help_text = spec.help_text()
        if help_text and kind != "switch":
            element.props["hint"] = help_text
        elif help_text:
            element.tooltip(help_text)
        if self.on_blur is not None:
            element.on("blur", lambda _: self.on_blur())
        return element

    def _show_conditional(self) -> None:
        for name, spec in self.specs.items():
            if spec.shown_when:
                self.inputs[name].visible = spec.shown_for(self._values, self._defaults)

    # ---------- writing ----------
    def _write(self, name: str, value: Any, remove: bool) -> None:
        if remove:
            self._values.pop(name, None)
        else:
            self._values[name] = value
        self.on_change(name, value, remove)
        if any(name in spec.shown_when for spec in self.specs.values()):
            self._show_conditional()

    def _set(self, spec: FieldSpec, value: Any) -> None:
        if (spec.default is not UNSET and value == spec.default) or (value is None and not spec.required):
            self._write(spec.name, None, True)
        else:
            self._write(spec.name, value, False)

    def _set_text(self, spec: FieldSpec, text: str | None) -> None:
        text = text or ""
        if text == "" and not spec.required:
            self._write(spec.name, None, True)
            return
        if spec.kind in ("integer", "number") and "{{" not in text:
            try:
                self._set(spec, int(text) if spec.kind == "integer" else float(text))
                return
            except ValueError:
                pass
        self._set(spec, text)

    def _set_number(self, spec: FieldSpec, value: float | None) -> None:
        if value is None:
            self._write(spec.name, None, True)
            return
        self._set(spec, int(value) if spec.kind == "integer" else float(value))

    def _set_json(self, spec: FieldSpec, text: str | None) -> None:
        value, error = parse_json(text or "")
        element = self.inputs.get(spec.name)
        if error:
            self._local_errors[spec.name] = error
            if isinstance(element, ValidationElement):
                element.error = error
            return
        self._local_errors.pop(spec.name, None)
        if isinstance(element, ValidationElement):
            element.error = None
        self._set(spec, value)

    # ---------- errors ----------
    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Put each validation message under its field (``config.<name>``); clear the others."""
        for name, element in self.inputs.items():
            messages = [self._local_errors[name]] if name in self._local_errors else []
            messages += [_short(m) for key, found in errors.items() if key == f"config.{name}"
                         or key.startswith(f"config.{name}.") for m in found]
            if isinstance(element, ValidationElement):
                element.error = "; ".join(messages) or None
            elif isinstance(element, (SchemaEditor, ToolsEditor)):
                element.show_error("; ".join(messages) or None)
            elif messages:
                element.tooltip("; ".join(messages))


def _short(message: str) -> str:
    """Validation messages start with ``node 'x', field 'config.y': ``; under the field that is noise."""
    found = _PREFIX.match(message)
    return found.group(1) if found else message


_PREFIX = re.compile(r"node '[^']*', (?:field '[^']*': |[\w.\[\]-]+: )(.*)", re.S)
