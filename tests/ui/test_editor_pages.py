"""The editor pages with NiceGUI's simulated ``User``: flows list, editor gestures (canvas events
as the browser sends them), validation display, forms, cache editor, policy, save, versions,
export, drafts. No browser: what is checked is what Python sends and stores."""
from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from nicegui import ui
from nicegui.testing.user_interaction import UserInteraction

from editor.canvas import FlowCanvas

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

DEMO = "pallet-assistant"


def canvas(ui_: EditorUI) -> FlowCanvas:
    (element,) = ui_.user.find(FlowCanvas).elements
    return element


def fire(ui_: EditorUI, name: str, args: dict[str, Any]) -> None:
    ui_.user.find(FlowCanvas).trigger(name, args)


def node(ui_: EditorUI, node_id: str) -> dict[str, Any]:
    return next(n for n in canvas(ui_).nodes if n["id"] == node_id)


async def select(ui_: EditorUI, *node_ids: str) -> None:
    fire(ui_, "selection_change", {"nodes": list(node_ids), "edges": []})
    await asyncio.sleep(0)


async def save(ui_: EditorUI) -> None:
    ui_.by("save").click()
    await ui_.until(lambda: not ui_.has("unsaved"), "the save")


# ---------- flows list ----------
async def test_first_start_lists_the_examples_and_search_filters(editor_user: EditorUI) -> None:
    await editor_user.open("/")
    assert editor_user.has(f"flow-{DEMO}") and editor_user.has("flow-seed-scenario")
    editor_user.by("flow-search").type("sequential")
    assert not editor_user.has(f"flow-{DEMO}") and not editor_user.has("flow-seed-scenario")
    assert editor_user.has("flow-seed-scenario-sequential")
    editor_user.by("flow-search").clear().type("nothing like it")
    await editor_user.user.should_see("No flow matches")


async def test_new_flow_opens_a_runnable_blank_flow(editor_user: EditorUI) -> None:
    await editor_user.open("/")
    editor_user.by("new-flow").click()
    (await editor_user.find("new-flow-name")).type("Order Status bot")
    (await editor_user.find("new-flow-create")).click()
    await editor_user.until(lambda: editor_user.stored("order-status-bot") is not None, "the new flow")
    await editor_user.until(lambda: editor_user.has("canvas"), "the editor to open")
    stored = editor_user.stored("order-status-bot")
    assert [n["type"] for n in stored["nodes"]] == ["user_input", "output"]
    assert len(canvas(editor_user).nodes) == 2


async def test_duplicate_and_delete_with_confirmation(editor_user: EditorUI) -> None:
    await editor_user.open("/")
    editor_user.by(f"duplicate-{DEMO}").click()
    await editor_user.until(lambda: editor_user.stored(f"{DEMO}-copy") is not None, "the duplicate")
    copy = editor_user.stored(f"{DEMO}-copy")
    assert copy["name"] == "Pallet-jack assistant (copy)" and copy["nodes"] == editor_user.stored(DEMO)["nodes"]
    # the list refreshes after the save: the copy's row (and its delete button) appears then
    await editor_user.until(lambda: editor_user.has(f"delete-{DEMO}-copy"), "the copy's row in the list")
    editor_user.by(f"delete-{DEMO}-copy").click()
    await editor_user.user.should_see("This cannot be undone")
    (await editor_user.find("confirm-delete")).click()
    await editor_user.until(lambda: editor_user.stored(f"{DEMO}-copy") is None, "the delete")
    await editor_user.until(lambda: not editor_user.has(f"flow-{DEMO}-copy"), "the list to drop it")


async def test_unknown_flow_says_so(editor_user: EditorUI) -> None:
    await editor_user.open("/flows/no-such-flow")
    await editor_user.user.should_see("There is no flow 'no-such-flow'")


# ---------- editor: graph gestures ----------
async def test_editor_shows_the_demo_flow(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    c = canvas(editor_user)
    assert len(c.nodes) == 8 and len(c.edges) == 9
    assert c.groups[0]["join_at"] == "node_5" and c.groups[0]["label"] == "Lookups"
    assert node(editor_user, "node_3")["data"]["badges"] == ["cached:5 min", "group:Lookups"]
    assert editor_user.one("problem-summary").text == "No problems"
    assert not editor_user.has("unsaved")
    await editor_user.user.should_see("Drag a node type from the palette")  # the flow's own settings


async def test_drop_connect_delete_undo_redo(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "palette_drop", {"type": "delay", "x": 600, "y": 500})
    assert node(editor_user, "node_9")["position"] == {"x": 484.0, "y": 468.0}
    assert editor_user.has("unsaved")
    await editor_user.user.should_see("Waits, then returns fixed values", retries=20)  # the inspector follows
    fire(editor_user, "connect", {"id": "node_1->node_9", "source": "node_1", "target": "node_9", "sourceHandle": None})
    assert any(e["id"] == "node_1->node_9" for e in canvas(editor_user).edges)
    fire(editor_user, "delete_request", {"nodes": ["node_9"], "edges": []})
    assert all(n["id"] != "node_9" for n in canvas(editor_user).nodes)
    assert all("node_9" not in (e["source"], e["target"]) for e in canvas(editor_user).edges)
    fire(editor_user, "shortcut", {"action": "undo"})
    assert any(e["id"] == "node_1->node_9" for e in canvas(editor_user).edges)
    fire(editor_user, "shortcut", {"action": "redo"})
    assert len(canvas(editor_user).nodes) == 8
    editor_user.by("undo").click()
    editor_user.by("undo").click()
    editor_user.by("undo").click()
    assert len(canvas(editor_user).nodes) == 8 and not editor_user.has("unsaved")


async def test_a_refused_connection_is_taken_back(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    c = canvas(editor_user)
    fire(editor_user, "connect", {"id": "node_5->node_2", "source": "node_5", "target": "node_2", "sourceHandle": None})
    assert all(e["id"] != "node_5->node_2" for e in c.edges)
    # the toast names the nodes by their labels, as the canvas shows them (issue 18)
    await editor_user.user.should_see("connecting 'Build context' to 'Detect category' would make a cycle")


async def test_move_into_a_frame_marks_the_group_and_the_problem_list_selects(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "node_moved", {"moves": [{"id": "node_6", "x": 260, "y": 420}], "group": "lookups"})
    c = canvas(editor_user)
    assert "node_6" in c.groups[0]["nodes"]
    assert any("must never run in parallel" in p for p in c.groups[0]["problems"])
    assert node(editor_user, "node_6")["data"]["problems"]
    assert editor_user.one("problem-summary").text.endswith("problems")
    editor_user.by("problem-bar").click()  # opens the list
    rows = list((await editor_user.find("problem-row")).elements)
    assert len(rows) == 5
    UserInteraction(editor_user.user, {rows[0]}, None).click()
    await editor_user.user.should_see("node_6 · ai_response")  # the inspector shows the offending node
    fire(editor_user, "node_moved", {"moves": [{"id": "node_6", "x": 780, "y": 160}], "group": None})
    assert "node_6" not in canvas(editor_user).groups[0]["nodes"]
    assert editor_user.one("problem-summary").text == "No problems"


async def test_group_selected_nodes_and_edit_the_group(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "group_click", {"id": "lookups"})
    editor_user.by("ungroup").click()
    assert canvas(editor_user).groups == []
    await select(editor_user, "node_2", "node_3", "node_4")
    await editor_user.user.should_see("3 nodes selected")
    editor_user.by("group").click()
    (group,) = canvas(editor_user).groups
    assert group["nodes"] == ["node_2", "node_3", "node_4"] and group["join_at"] == "node_5"
    editor_user.by("group-label").clear().type("Lookups again")
    assert canvas(editor_user).groups[0]["label"] == "Lookups again"
    editor_user.one("group-join").set_value("node_6")
    assert canvas(editor_user).groups[0]["join_at"] == "node_6"
    assert "join:Lookups again" in node(editor_user, "node_6")["data"]["badges"]


async def test_copy_paste_and_select_all(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_5", "node_6")
    fire(editor_user, "shortcut", {"action": "copy"})
    fire(editor_user, "shortcut", {"action": "paste"})
    ids = [n["id"] for n in canvas(editor_user).nodes]
    assert ids[-2:] == ["node_9", "node_10"]
    assert any(e["source"] == "node_9" and e["target"] == "node_10" for e in canvas(editor_user).edges)
    assert node(editor_user, "node_9")["position"] == {"x": 560.0, "y": 200.0}
    fire(editor_user, "shortcut", {"action": "paste"})  # again: shifted once more, not on top
    assert node(editor_user, "node_11")["position"] == {"x": 600.0, "y": 240.0}


async def test_auto_layout_places_nodes_by_depth(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("layout").click()
    xs = {n["id"]: n["position"]["x"] for n in canvas(editor_user).nodes}
    assert xs["node_1"] < xs["node_3"] < xs["node_5"] < xs["node_6"] < xs["node_8"]
    assert xs["node_2"] == xs["node_3"] == xs["node_4"]


# ---------- inspector ----------
async def test_config_form_writes_fields_and_shows_errors_inline(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_3")
    limit = editor_user.one("field-limit")
    assert limit.value == 3 and "≥ 1 and ≤ 100" in limit.props["hint"]
    limit.set_value(500)
    assert "less than or equal to 100" in (limit.error or "")
    assert node(editor_user, "node_3")["data"]["problems"]
    limit.set_value(7)
    assert limit.error is None and not node(editor_user, "node_3")["data"]["problems"]
    query = editor_user.one("field-query")
    assert query.value == "{{ user_message }}"
    query.set_value("{{ user_message }} pallet")
    await select(editor_user, "node_5")
    template = editor_user.one("field-template")
    assert "akis-mono" in template.classes and isinstance(template, ui.textarea)
    await select(editor_user, "node_8")
    fields = editor_user.one("field-fields")
    fields.set_value("{not json")
    assert "not valid JSON" in fields.error
    await save(editor_user)
    stored = editor_user.stored(DEMO)["nodes"]
    assert stored[2]["config"] == {"query": "{{ user_message }} pallet", "limit": 7}


async def test_form_kinds_follow_the_schema(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "palette_drop", {"type": "http_request", "x": 100, "y": 600})
    await asyncio.sleep(0.3)  # the new node is selected once the canvas has it
    assert isinstance(editor_user.one("field-method"), ui.select)
    assert isinstance(editor_user.one("field-timeout_s"), ui.number)
    url = editor_user.one("field-url")
    assert "Field required" in (url.error or "")
    url.set_value("https://example.com/{{ category }}")
    assert url.error is None
    await select(editor_user, "node_6")
    assert isinstance(editor_user.one("field-include_history"), ui.switch)
    await select(editor_user, "node_1")
    assert isinstance(editor_user.one("field-fields"), ui.input_chips)


async def test_provider_options_are_shown_for_the_mock_only(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_6")  # anthropic, with the settings the mock uses when it stands in
    assert not editor_user.has("field-provider_options")
    provider = editor_user.one("field-provider")
    provider.set_value("mock")
    options = editor_user.one("field-provider_options")
    assert json.loads(options.value) == {"delay_ms": 200, "tokens_per_second": 30}
    provider.set_value("openai")
    assert not editor_user.has("field-provider_options")


async def test_cache_editor_for_the_type_for_one_node_and_never_for_ai(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_3")
    editor_user.one("cache-ttl").set_value(60)
    assert "cached:1 min" in node(editor_user, "node_3")["data"]["badges"]
    editor_user.one("cache-tags").set_value(["products", "stock"])
    editor_user.one("cache-key-fields").set_value(["query"])
    editor_user.one("cache-scope").set_value("node")
    await save(editor_user)
    stored = editor_user.stored(DEMO)
    assert stored["nodes"][2]["cache"] == {"enabled": True, "ttl": 60, "key_fields": ["query"],
                                           "tags": ["products", "stock"]}
    editor_user.one("cache-enabled").set_value(False)
    assert not any(b.startswith("cached") for b in node(editor_user, "node_3")["data"]["badges"])
    await select(editor_user, "node_6")
    switch = editor_user.one("cache-enabled")
    assert switch.props.get("disable") is True and switch.value is False
    await editor_user.user.should_see("An AI response is never cached")


async def test_policy_editor(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_3")
    editor_user.one("policy-timeout").set_value(2.5)
    editor_user.one("policy-attempts").set_value(3)
    editor_user.one("policy-on-error").set_value("fallback")
    fallback = editor_user.one("policy-fallback")
    assert fallback.visible
    assert any("no 'fallback' value" in p for p in node(editor_user, "node_3")["data"]["problems"])
    fallback.set_value('{"products": []}')
    assert not node(editor_user, "node_3")["data"]["problems"]
    await save(editor_user)
    stored = editor_user.stored(DEMO)["nodes"][2]
    assert (stored["timeout_s"], stored["retry"], stored["on_error"], stored["fallback"]) == (
        2.5, {"attempts": 3, "backoff_s": 0.2}, "fallback", {"products": []})


# ---------- saving, versions, export, drafts ----------
async def test_save_with_comment_versions_diff_and_restore(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_3")
    editor_user.one("field-limit").set_value(9)
    editor_user.by("save-comment").click()
    (await editor_user.find("save-comment-input")).type("more products")
    (await editor_user.find("save-comment-confirm")).click()
    await editor_user.until(lambda: not editor_user.has("unsaved"), "the save")
    assert editor_user.one("flow-title").text == "Pallet-jack assistant"
    editor_user.by("versions").click()
    await editor_user.user.should_see("more products")
    await editor_user.user.should_see("config.limit: 3 → 9")
    (await editor_user.find("restore-1")).click()
    await editor_user.until(lambda: editor_user.has("unsaved"), "the restore")
    await select(editor_user, "node_3")
    assert editor_user.one("field-limit").value == 3
    await save(editor_user)
    assert editor_user.stored(DEMO)["nodes"][2]["config"]["limit"] == 3


async def test_saving_in_the_editor_registers_the_flows_cache_events(editor_user: EditorUI) -> None:
    """A version written by an older app (straight to storage, so no event mapping was learned)
    is opened and saved in the editor: from that save on, its event clears its tag."""
    from storage.repos.flows import save_flow

    document = {**editor_user.stored(DEMO), "settings": {"cache_events": {"stock.changed": ["stock"]}}}
    editor_user.context.database.call(save_flow, "1", document, "with an event mapping")
    events = editor_user.context.cache_events
    assert events is not None and events.tags_for("1", "stock.changed") == []
    await editor_user.open(f"/flows/{DEMO}")
    await select(editor_user, "node_3")
    editor_user.one("field-limit").set_value(9)
    assert events.tags_for("1", "stock.changed") == []
    await save(editor_user)
    assert editor_user.stored(DEMO)["settings"]["cache_events"] == {"stock.changed": ["stock"]}
    assert events.tags_for("1", "stock.changed") == ["stock"]
    assert events.tags_for("2", "stock.changed") == []  # the tenant's own mapping only


async def test_export_downloads_the_flow(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("export").click()
    response = await editor_user.user.download.next()
    assert json.loads(response.content) == editor_user.stored(DEMO)


async def test_unsaved_changes_come_back_after_a_reload(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "palette_drop", {"type": "template", "x": 0, "y": 600})
    await asyncio.sleep(0.7)  # the draft is kept by a half-second timer
    await editor_user.open(f"/flows/{DEMO}")
    assert editor_user.has("restored-banner") and editor_user.has("unsaved")
    assert any(n["id"] == "node_9" for n in canvas(editor_user).nodes)
    assert len(editor_user.stored(DEMO)["nodes"]) == 8
    editor_user.by("discard-draft").click()
    assert len(canvas(editor_user).nodes) == 8 and not editor_user.has("unsaved")
    await asyncio.sleep(0.7)
    await editor_user.open(f"/flows/{DEMO}")
    assert not editor_user.has("restored-banner")


# ---------- palette and run status ----------
PLUGIN = '''
from runtime.nodes.base import NodeType


class Greeter(NodeType):
    type_id = "greeter"
    title = "Greeter"
    description = "Says hello to the customer."
    category = "integration"
    icon = "waving_hand"

    async def run(self, config, ctx):
        return {"greeting": "hello"}
'''


async def test_palette_lists_the_tenants_plugin_types_and_searches(editor_user: EditorUI, tmp_path: Any) -> None:
    folder = tmp_path / "plugins" / "tenant_1"
    folder.mkdir(parents=True)
    (folder / "greeter.py").write_text(PLUGIN, encoding="utf-8")
    editor_user.context.registry.load_plugin_folder(tmp_path / "plugins")
    await editor_user.open(f"/flows/{DEMO}")
    assert editor_user.has("palette-greeter") and editor_user.has("palette-product_search")
    await editor_user.user.should_see("plugin")
    editor_user.by("palette-search").type("hello customer")
    assert editor_user.has("palette-greeter") and not editor_user.has("palette-product_search")
    editor_user.by("palette-greeter").click()  # a click adds it next to the flow
    await editor_user.until(lambda: any(n["id"] == "node_9" for n in canvas(editor_user).nodes), "the new node")
    added = node(editor_user, "node_9")
    assert added["type"] == "greeter" and added["position"]["x"] > 1040


async def test_an_edit_keeps_the_run_status_shown_on_nodes(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    c = canvas(editor_user)
    with editor_user.user.client:
        c.update_node("node_3", status="done", duration_ms=42)
    await select(editor_user, "node_3")
    editor_user.one("field-limit").set_value(4)
    assert node(editor_user, "node_3")["data"]["status"] == "done"
    assert node(editor_user, "node_3")["data"]["duration_ms"] == 42


async def test_saving_over_a_newer_version_warns(editor_user: EditorUI) -> None:
    from storage.repos.flows import save_flow

    await editor_user.open(f"/flows/{DEMO}")
    elsewhere = dict(editor_user.stored(DEMO), name="Renamed elsewhere")
    editor_user.context.database.call(save_flow, "1", elsewhere, "another tab")
    await select(editor_user, "node_3")
    editor_user.one("field-limit").set_value(8)
    await save(editor_user)
    await editor_user.user.should_see("Version 2 was saved elsewhere after you opened version 1")
    assert editor_user.stored(DEMO)["nodes"][2]["config"]["limit"] == 8
