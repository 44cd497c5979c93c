"""An agent's tools in the inspector: a card per tool (name, kind, description, what its kind
needs), added, changed and removed, saved as the node's tools; validation problems under it."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from editor.canvas import FlowCanvas
from editor.inspector.tools_editor import new_tool, set_path, with_kind

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

FLOW = "agent-assistant"  # a shipped example with an agent of two product_search tools


async def select(ui_: EditorUI, node_id: str) -> None:
    ui_.user.find(FlowCanvas).trigger("selection_change", {"nodes": [node_id], "edges": []})
    await asyncio.sleep(0)


def stored_tools(ui_: EditorUI) -> list[dict[str, Any]]:
    stored = ui_.stored(FLOW)
    assert stored is not None
    return next(n for n in stored["nodes"] if n["id"] == "agent")["config"]["tools"]


async def test_tools_are_cards_that_write_the_agents_tools(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{FLOW}")
    await select(editor_user, "agent")
    assert editor_user.one("tool-name-1").value == "forklift_search"
    assert editor_user.one("tool-limit-0").value == 3
    editor_user.by("tools-add").click()
    editor_user.one("tool-kind-2").set_value("flow")
    await editor_user.until(lambda: "needs flow_id" in editor_user.one("tools-error").text, "the validation problem")
    editor_user.one("tool-name-2").set_value("quote")
    editor_user.one("tool-flow-2").set_value("price-quote")
    editor_user.one("tool-description-2").set_value("A price quote for a product")
    editor_user.one("tool-kind-1").set_value("http_request")
    editor_user.one("tool-url-1").set_value("https://erp.example.com/stock/{sku}")
    editor_user.one("tool-method-1").set_value("POST")
    editor_user.by("save").click()
    await editor_user.until(lambda: not editor_user.has("unsaved"), "the save")
    assert stored_tools(editor_user) == [
        {"name": "product_search", "kind": "product_search", "config": {"limit": 3}},
        {"name": "forklift_search", "kind": "http_request", "description": "Searches forklifts only.",
         "config": {"url": "https://erp.example.com/stock/{sku}", "method": "POST"}},
        {"name": "quote", "kind": "flow", "flow_id": "price-quote", "description": "A price quote for a product"},
    ]


def test_helpers_name_new_tools_and_drop_an_old_kinds_settings() -> None:
    tools = [{"name": "product_search", "kind": "product_search"}]
    assert new_tool(tools) == {"name": "product_search_2", "kind": "product_search"}
    assert with_kind({"name": "a", "kind": "flow", "flow_id": "x", "description": "d"}, "http_request") == \
        {"name": "a", "description": "d", "kind": "http_request"}
    tool: dict[str, Any] = {"name": "a"}
    set_path(tool, ("config", "url"), "https://x")
    assert tool == {"name": "a", "config": {"url": "https://x"}}
    set_path(tool, ("config", "url"), "")
    assert tool == {"name": "a"}


async def test_flow_fields_offer_the_tenants_other_flows(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{FLOW}")
    editor_user.user.find(FlowCanvas).trigger("palette_drop", {"type": "subflow", "x": 100, "y": 600})
    await asyncio.sleep(0.3)  # the new node is selected once the canvas has it
    picker = editor_user.one("field-flow_id")
    assert picker.options["pallet-assistant"] == "Pallet-jack assistant (pallet-assistant)"
    assert FLOW not in picker.options  # not the flow itself
    assert "choose the flow to run" in (picker.error or "")
    picker.set_value("pallet-assistant")
    assert picker.error is None
    await select(editor_user, "agent")
    editor_user.by("tools-add").click()
    editor_user.one("tool-kind-2").set_value("flow")
    assert "seed-scenario" in editor_user.one("tool-flow-2").options
