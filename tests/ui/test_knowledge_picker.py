"""knowledge_retrieval's knowledge bases in the inspector: the tenant's bases offered by name,
several picked at once and saved as ids; an id typed by hand is kept."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from editor.canvas import FlowCanvas

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

FLOW = "support-assistant"  # the shipped example: node_2 searches support-docs


def stored_bases(ui_: EditorUI) -> list[str]:
    stored = ui_.stored(FLOW)
    assert stored is not None
    return next(n for n in stored["nodes"] if n["id"] == "node_2")["config"]["knowledge_bases"]


async def test_the_picker_offers_the_tenants_bases_by_name(editor_user: EditorUI) -> None:
    await editor_user.context.knowledge.create("1", "faq", "Frequently asked")
    await editor_user.context.knowledge.create("2", "other-tenant", "Not tenant 1's")
    await editor_user.open(f"/flows/{FLOW}")
    editor_user.user.find(FlowCanvas).trigger("selection_change", {"nodes": ["node_2"], "edges": []})
    await asyncio.sleep(0)
    picker = editor_user.one("field-knowledge_bases")
    assert picker.options == {"faq": "Frequently asked (faq)",
                              "support-docs": "Support documents (example) (support-docs)"}
    assert picker.value == ["support-docs"]

    picker.set_value(["support-docs", "faq"])
    await save(editor_user)
    assert stored_bases(editor_user) == ["support-docs", "faq"]
    picker.set_value(["faq", "made-later"])  # a typed id (a base not created yet) is kept as it is
    await save(editor_user)
    assert stored_bases(editor_user) == ["faq", "made-later"]


async def save(ui_: EditorUI) -> None:
    await ui_.until(lambda: ui_.has("unsaved"), "the edit")
    ui_.by("save").click()
    await ui_.until(lambda: not ui_.has("unsaved"), "the save")
