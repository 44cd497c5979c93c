"""The inspector's editor of a JSON Schema field (``format: json-schema``): a row per field,
with its type, whether it is required and what it means, or the schema as JSON when it holds
more than rows can show (or the person asks for JSON). Writes the schema on every change."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from .schema import parse_json, show_json
from .schema_fields import TYPES, FieldRow, rows_of, schema_of


class SchemaEditor(ui.column):
    def __init__(self, label: str, value: Any, on_change: Callable[[Any], None], hint: str = "") -> None:
        super().__init__()
        self.classes("gap-1 w-full")
        self.on_change = on_change
        self.schema = value if isinstance(value, dict) else {"type": "object", "properties": {}}
        self.rows = rows_of(self.schema)
        self.as_json = self.rows is None
        with self:
            with ui.row().classes("items-center justify-between w-full no-wrap"):
                ui.label(label).classes("text-sm font-medium")
                self.json_switch = ui.switch("JSON", value=self.as_json, on_change=lambda e: self._mode(e.value))
                self.json_switch.props("dense data-testid=schema-json")
            self.body = ui.column().classes("gap-1 w-full")
            self.error_label = ui.label("").classes("text-xs text-negative")
            self.error_label.props("data-testid=schema-error")
            self.error_label.visible = False
            if hint:
                ui.label(hint).classes("text-xs akis-muted")
        self._draw()

    # ---------- drawing ----------
    def _draw(self) -> None:
        self.body.clear()
        with self.body:
            if self.as_json or self.rows is None:
                area = ui.textarea(value=show_json(self.schema), on_change=lambda e: self._json(e.value))
                area.props("outlined dense autogrow data-testid=schema-text").classes("w-full akis-mono")
                return
            for index, row in enumerate(self.rows):
                self._row(index, row)
            ui.button("Add field", icon="add", on_click=self._add).props(
                "flat dense no-caps data-testid=schema-add").classes("self-start")

    def _row(self, index: int, row: FieldRow) -> None:
        """Two lines a field, so the inspector keeps its width: name, type, remove; required, meaning."""
        with ui.column().classes("gap-1 w-full min-w-0 akis-schema-row").props(f"data-testid=schema-row-{index}"):
            with ui.row().classes("items-center gap-1 w-full no-wrap"):
                ui.input(placeholder="name", value=row.name, on_change=lambda e, r=row: self._edit(r, name=e.value)) \
                    .props(f"dense outlined data-testid=schema-name-{index}").classes("grow min-w-0")
                ui.select(list(TYPES), value=row.kind, on_change=lambda e, r=row: self._edit(r, kind=e.value)) \
                    .props(f"dense outlined options-dense data-testid=schema-type-{index}").style("width: 9rem")
                ui.button(icon="close", on_click=lambda _, r=row: self._remove(r)) \
                    .props(f"flat dense round size=sm data-testid=schema-remove-{index}").tooltip("Remove the field")
            with ui.row().classes("items-center gap-1 w-full no-wrap"):
                ui.checkbox("required", value=row.required,
                            on_change=lambda e, r=row: self._edit(r, required=e.value)) \
                    .props(f"dense data-testid=schema-required-{index}")
                ui.input(placeholder="what it is (for the model)", value=row.description,
                         on_change=lambda e, r=row: self._edit(r, description=e.value)) \
                    .props(f"dense outlined data-testid=schema-description-{index}").classes("grow min-w-0")

    # ---------- changes ----------
    def _edit(self, row: FieldRow, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(row, name, value if value is not None else getattr(row, name))
        self._write_rows()

    def _add(self) -> None:
        assert self.rows is not None
        taken = {r.name for r in self.rows}
        name = next(f"field_{n}" for n in range(1, len(taken) + 2) if f"field_{n}" not in taken)
        self.rows.append(FieldRow(name))
        self._write_rows()
        self._draw()

    def _remove(self, row: FieldRow) -> None:
        assert self.rows is not None
        self.rows.remove(row)
        self._write_rows()
        self._draw()

    def _write_rows(self) -> None:
        assert self.rows is not None
        self.schema = schema_of(self.rows)
        self.on_change(self.schema)

    def _json(self, text: str | None) -> None:
        value, error = parse_json(text or "")
        if error or not isinstance(value, dict):
            self.show_error(error or "the schema must be a JSON object")
            return
        self.show_error(None)
        self.schema = value
        self.on_change(value)

    def _mode(self, as_json: bool) -> None:
        rows = rows_of(self.schema)
        if not as_json and rows is None:
            self.json_switch.value = True  # more than rows can show: stays JSON
            self.show_error("this schema holds more than simple fields: edit it as JSON")
            return
        self.as_json, self.rows = as_json, rows
        self._draw()

    def show_error(self, message: str | None) -> None:
        self.error_label.text = message or ""
        self.error_label.visible = bool(message)
