"""The extract node's JSON Schema in the inspector: a row per field (name, type, required,
description), added and removed with buttons and saved as a JSON Schema; the JSON view for
anything more, with parse errors and validation problems shown under the editor."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from editor.canvas import FlowCanvas
from editor.inspector.schema_fields import FieldRow, rows_of, schema_of

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

FLOW = "agent-assistant"  # a shipped example: its 'order' node is an extract


async def select(ui_: EditorUI, node_id: str) -> None:
    ui_.user.find(FlowCanvas).trigger("selection_change", {"nodes": [node_id], "edges": []})
    await asyncio.sleep(0)


async def save(ui_: EditorUI) -> None:
    ui_.by("save").click()
    await ui_.until(lambda: not ui_.has("unsaved"), "the save")


def stored_schema(ui_: EditorUI) -> dict[str, Any]:
    stored = ui_.stored(FLOW)
    assert stored is not None
    return next(n for n in stored["nodes"] if n["id"] == "order")["config"]["data_schema"]


async def test_fields_are_rows_that_write_the_schema(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{FLOW}")
    await select(editor_user, "order")
    assert [editor_user.one(f"schema-name-{i}").value for i in range(3)] == ["product", "quantity", "lift_height_m"]
    assert editor_user.one("schema-type-1").value == "whole number"
    assert editor_user.one("schema-required-0").value is True and editor_user.one("schema-required-1").value is False
    editor_user.by("schema-add").click()
    editor_user.one("schema-name-3").set_value("needs_quote")
    editor_user.one("schema-type-3").set_value("yes/no")
    editor_user.one("schema-required-3").set_value(True)
    editor_user.one("schema-description-3").set_value("Did they ask for a quote?")
    editor_user.by("schema-remove-2").click()
    await save(editor_user)
    schema = stored_schema(editor_user)
    assert list(schema["properties"]) == ["product", "quantity", "needs_quote"]
    assert schema["properties"]["needs_quote"] == {"type": "boolean", "description": "Did they ask for a quote?"}
    assert schema["required"] == ["product", "needs_quote"]


async def test_the_json_view_shows_parse_errors_and_validation_problems(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{FLOW}")
    await select(editor_user, "order")
    editor_user.one("schema-json").set_value(True)
    text = editor_user.one("schema-text")
    text.set_value("{not json")
    await editor_user.until(lambda: editor_user.has("schema-error"), "the parse error")
    assert "not valid JSON" in editor_user.one("schema-error").text
    text.set_value('{"type": "object", "properties": {"when": {"type": "date"}}}')
    await editor_user.until(lambda: "'date' is not supported" in editor_user.one("schema-error").text,
                            "the validation problem under the editor")
    editor_user.one("schema-json").set_value(False)  # 'date' is not a row type: stays JSON, says why
    assert editor_user.has("schema-text") and "edit it as JSON" in editor_user.one("schema-error").text


def test_rows_round_trip_and_richer_schemas_stay_json() -> None:
    rows = [FieldRow("sku", "text", True, "The SKU"), FieldRow("count", "whole number"),
            FieldRow("tags", "list of text")]
    schema = schema_of(rows)
    assert schema == {"type": "object", "required": ["sku"], "properties": {
        "sku": {"type": "string", "description": "The SKU"}, "count": {"type": ["integer", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}}}}
    assert rows_of(schema) == rows
    assert rows_of({"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}}}) is None
    assert rows_of({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}) is None
