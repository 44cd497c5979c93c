"""The extract node's schema editor and the agent's tools editor in headless Chromium against the
real app: fields as rows, tools as cards, one added and saved. Screenshots in artifacts/editor/."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .editor_app import ROOT, EditorApp
from .test_editor_browser import NODE, open_flow, save, shot

pytestmark = pytest.mark.browser


def test_schema_fields_are_rows_in_the_inspector(editor_page: Any, editor_app: EditorApp) -> None:
    document = json.loads((ROOT / "examples" / "agent_assistant.json").read_text(encoding="utf-8"))
    editor_app.put_flow("schema-test", document)
    page = editor_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_flow(page, editor_app, "schema-test")
    page.locator(NODE.format("order")).click()
    page.get_by_test_id("schema-row-2").wait_for()
    assert page.get_by_test_id("schema-name-0").input_value() == "product"
    page.get_by_test_id("schema-add").click()
    page.get_by_test_id("schema-name-3").fill("email")
    page.get_by_test_id("schema-description-3").fill("Their e-mail address, if given")
    page.get_by_test_id("unsaved").wait_for()
    width = page.get_by_test_id("inspector").evaluate("e => e.getBoundingClientRect().width")
    assert width < 420, f"the inspector grew to {width} px"  # the rows wrap inside it
    shot(page, "inspector_schema_fields")
    save(page)
    stored = editor_app.stored("schema-test")
    assert stored is not None
    schema = next(n for n in stored["nodes"] if n["id"] == "order")["config"]["data_schema"]
    email = schema["properties"]["email"]
    assert email == {"type": ["string", "null"], "description": "Their e-mail address, if given"}


def test_agent_tools_are_cards_in_the_inspector(editor_page: Any, editor_app: EditorApp) -> None:
    document = json.loads((ROOT / "examples" / "agent_assistant.json").read_text(encoding="utf-8"))
    editor_app.put_flow("tools-test", document)
    page = editor_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_flow(page, editor_app, "tools-test")
    page.locator(NODE.format("agent")).click()
    page.get_by_test_id("tool-1").wait_for()
    page.get_by_test_id("tools-add").click()
    page.get_by_test_id("tool-2").scroll_into_view_if_needed()
    page.get_by_test_id("tool-name-2").fill("stock")
    page.get_by_test_id("unsaved").wait_for()
    width = page.get_by_test_id("inspector").evaluate("e => e.getBoundingClientRect().width")
    assert width < 420, f"the inspector grew to {width} px"
    shot(page, "inspector_agent_tools")
    save(page)
    stored = editor_app.stored("tools-test")
    assert stored is not None
    tools = next(n for n in stored["nodes"] if n["id"] == "agent")["config"]["tools"]
    assert tools[2] == {"name": "stock", "kind": "product_search"}
