"""Saving a draft in the editor: a draft may keep problems (a node not wired yet), but not a call
that closes a cycle of flows calling each other: that save is refused with the chain named,
and nothing is stored."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from editor.canvas import FlowCanvas

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

DEMO = "pallet-assistant"


def calls(flow_id: str, target: str) -> dict[str, Any]:
    return {"akis": 1, "flow_id": flow_id, "name": flow_id,
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "sub", "type": "subflow", "config": {"flow_id": target, "stream": False}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "sub"}, {"source": "sub", "target": "out"}]}


async def add_subflow(ui_: EditorUI, target: str) -> None:
    ui_.user.find(FlowCanvas).trigger("palette_drop", {"type": "subflow", "x": 100, "y": 600})
    await asyncio.sleep(0.3)  # the new node is selected once the canvas has it
    ui_.one("field-flow_id").set_value(target)


async def test_a_draft_that_closes_a_cycle_of_flows_is_not_saved(editor_user: EditorUI) -> None:
    from storage.repos.flows import save_flow

    editor_user.context.database.call(save_flow, "1", calls("calls-back", DEMO), "calls the demo")
    await editor_user.open(f"/flows/{DEMO}")
    before = editor_user.stored(DEMO)
    await add_subflow(editor_user, "calls-back")
    editor_user.by("save").click()
    chain = f"flows call each other in a cycle: {DEMO} -> calls-back -> {DEMO}"
    await editor_user.until(lambda: editor_user.user.notify.contains(chain), "the refusal")
    assert editor_user.has("unsaved")
    assert editor_user.stored(DEMO) == before


async def test_a_draft_with_a_call_that_does_not_come_back_is_saved(editor_user: EditorUI) -> None:
    from storage.repos.flows import save_flow

    editor_user.context.database.call(save_flow, "1", calls("calls-elsewhere", "seed-scenario"), "no cycle")
    await editor_user.open(f"/flows/{DEMO}")
    await add_subflow(editor_user, "calls-elsewhere")
    editor_user.by("save").click()  # the new node is not wired yet: a draft may keep that
    await editor_user.until(lambda: not editor_user.has("unsaved"), "the save")
    stored = editor_user.stored(DEMO)
    assert stored is not None and any(n.get("config", {}).get("flow_id") == "calls-elsewhere" for n in stored["nodes"])
