"""The flow editor in headless Chromium against the real app: render, drop, connect, delete,
group, edit, undo/redo, drafts across a reload. Each test leaves a screenshot in artifacts/editor/.

Every test edits its own flow (seeded through storage) in its own browser context, so the
tests share one app process and still do not see each other's drafts.
"""
from __future__ import annotations

from typing import Any

import pytest

from .editor_app import ARTIFACTS, EditorApp
from .gestures import center, drag

pytestmark = pytest.mark.browser

NODE = '.vue-flow__node[data-id="{}"]'


def open_flow(page: Any, app: EditorApp, flow_id: str) -> None:
    page.goto(f"{app.url}/flows/{flow_id}")
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)


def save(page: Any) -> None:
    page.get_by_test_id("save").click()
    page.get_by_test_id("unsaved").wait_for(state="hidden")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_demo_flow_opens_from_the_list_with_every_node(editor_page: Any, editor_app: EditorApp) -> None:
    page = editor_page
    page.goto(editor_app.url + "/")
    card = page.get_by_test_id("flow-pallet-assistant")
    card.wait_for()
    assert "Pallet-jack assistant" in card.inner_text()
    shot(page, "flows_list_light")
    page.get_by_test_id("dark-toggle").click()
    page.wait_for_function("document.body.classList.contains('body--dark')")
    shot(page, "flows_list_dark")
    page.get_by_test_id("open-pallet-assistant").click()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    assert page.locator(".vue-flow__node").count() == 8
    assert page.locator(".vue-flow__edge").count() == 9
    labels = page.locator(".akis-node__label").all_inner_texts()
    assert {"User message", "Search products", "Answer", "Save conversation"} <= set(labels)
    frame = page.locator('.akis-frame[data-group-id="lookups"]')
    assert "Lookups" in frame.inner_text() and "Build context" in frame.inner_text()
    cached = page.locator(NODE.format("node_3")).locator(".akis-badge--cached")
    assert cached.inner_text().strip().endswith("5 min")
    assert page.get_by_test_id("problem-summary").inner_text() == "No problems"
    assert page.locator(".akis-canvas.akis-dark").count() == 1  # dark mode is remembered across pages
    shot(page, "editor_dark")
    page.get_by_test_id("dark-toggle").click()
    page.wait_for_function("!document.body.classList.contains('body--dark')")
    shot(page, "editor_light")


def test_drag_a_node_type_from_the_palette_and_drop_it(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("drop-test")
    page = editor_page
    open_flow(page, editor_app, "drop-test")
    pane = page.locator(".vue-flow__pane").bounding_box()
    page.drag_and_drop('[data-testid="palette-delay"]', ".vue-flow__pane",
                       target_position={"x": pane["width"] * 0.5, "y": pane["height"] * 0.85})
    node = page.locator(NODE.format("node_9"))
    node.wait_for()
    dropped = node.bounding_box()
    drop_x, drop_y = pane["x"] + pane["width"] * 0.5, pane["y"] + pane["height"] * 0.85
    assert abs(dropped["x"] + dropped["width"] / 2 - drop_x) < dropped["width"] / 2  # lands where it was dropped
    assert abs(dropped["y"] + dropped["height"] / 2 - drop_y) < dropped["height"]
    assert "Delay" in node.inner_text()
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_test_id("inspector").get_by_text("Waits, then returns fixed values", exact=False).wait_for()
    save(page)
    assert [n["id"] for n in editor_app.stored("drop-test")["nodes"]][-1] == "node_9"


def test_connect_two_nodes(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("connect-test")
    page = editor_page
    open_flow(page, editor_app, "connect-test")
    source = center(page, f'{NODE.format("node_2")} .vue-flow__handle.source')
    target = center(page, f'{NODE.format("node_6")} .vue-flow__handle.target')
    drag(page, source, target, steps=15)
    page.get_by_test_id("unsaved").wait_for()
    page.wait_for_selector('.vue-flow__edge[data-id="node_2->node_6"]', state="attached")
    save(page)
    edges = {(e["source"], e["target"]) for e in editor_app.stored("connect-test")["edges"]}
    assert ("node_2", "node_6") in edges
    # a connection that would close a cycle is refused and taken back
    drag(page, center(page, f'{NODE.format("node_5")} .vue-flow__handle.source'),
         center(page, f'{NODE.format("node_2")} .vue-flow__handle.target'), steps=15)
    page.get_by_text("would make a cycle", exact=False).wait_for()
    page.wait_for_selector('.vue-flow__edge[data-id="node_5->node_2"]', state="detached")


def test_delete_then_undo_and_redo(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("undo-test")
    page = editor_page
    open_flow(page, editor_app, "undo-test")
    page.locator(NODE.format("node_8")).click()
    page.keyboard.press("Delete")
    page.wait_for_selector(NODE.format("node_8"), state="detached")
    assert page.locator(".vue-flow__node").count() == 7
    page.locator(".vue-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    page.wait_for_selector(NODE.format("node_8"))
    assert page.locator(".vue-flow__edge").count() == 9
    page.get_by_test_id("unsaved").wait_for(state="hidden")  # back to the saved flow
    page.keyboard.press("Control+Shift+z")
    page.wait_for_selector(NODE.format("node_8"), state="detached")
    page.get_by_test_id("undo").click()
    page.wait_for_selector(NODE.format("node_8"))
    page.get_by_test_id("redo").click()
    page.wait_for_selector(NODE.format("node_8"), state="detached")
    # the toolbar button deletes the selection too
    page.locator(NODE.format("node_7")).click()
    page.get_by_test_id("delete").click()
    page.wait_for_selector(NODE.format("node_7"), state="detached")
    save(page)
    assert {n["id"] for n in editor_app.stored("undo-test")["nodes"]} == {f"node_{i}" for i in range(1, 7)}


def test_group_three_nodes_into_a_parallel_group(editor_page: Any, editor_app: EditorApp) -> None:
    document = editor_app.put_flow("group-test")
    document["parallel_groups"] = []
    editor_app.put_flow("group-test", document)
    page = editor_page
    open_flow(page, editor_app, "group-test")
    assert page.locator(".akis-frame").count() == 0
    page.locator(NODE.format("node_2")).click()
    page.locator(NODE.format("node_3")).click(modifiers=["Shift"])
    page.locator(NODE.format("node_4")).click(modifiers=["Shift"])
    page.get_by_test_id("inspector").get_by_text("3 nodes selected").wait_for()
    page.get_by_test_id("group").click()
    frame = page.locator(".akis-frame")
    frame.wait_for()
    box = frame.bounding_box()
    for node_id in ("node_2", "node_3", "node_4"):
        inner = page.locator(NODE.format(node_id)).bounding_box()
        assert box["x"] < inner["x"] and inner["x"] + inner["width"] < box["x"] + box["width"]
    assert "Parallel 1" in frame.inner_text() and "Build context" in frame.inner_text()  # the discovered join
    page.get_by_test_id("group-label").wait_for()
    # an AI node dragged into the frame breaks the rule: the frame says why
    drag(page, center(page, NODE.format("node_6")), (box["x"] + box["width"] / 2, box["y"] + box["height"] - 30))
    problem = page.locator(".akis-frame--problem").get_by_test_id("group-problem")
    problem.wait_for()
    assert "must never run in parallel" in problem.get_attribute("title")
    shot(page, "group_with_ai_node")
    page.keyboard.press("Control+z")
    page.wait_for_selector(".akis-frame--problem", state="detached")
    save(page)
    groups = editor_app.stored("group-test")["parallel_groups"]
    assert [(g["id"], g["nodes"]) for g in groups] == [("group_1", ["node_2", "node_3", "node_4"])]


def test_edit_a_config_field_and_the_cache_ttl(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("form-test")
    page = editor_page
    open_flow(page, editor_app, "form-test")
    page.locator(NODE.format("node_3")).click()
    limit = page.get_by_test_id("field-limit")
    limit.fill("7")
    page.get_by_test_id("unsaved").wait_for()
    limit.fill("500")  # out of bounds: the inspector says so under the field
    page.locator(".q-field--error").get_by_text("less than or equal to 100", exact=False).wait_for()
    limit.fill("7")
    page.get_by_test_id("tab-cache").click()
    ttl = page.get_by_test_id("cache-ttl")
    ttl.fill("60")
    page.locator(NODE.format("node_3")).locator(".akis-badge--cached", has_text="1 min").wait_for()
    shot(page, "inspector_cache")
    page.locator(NODE.format("node_6")).click()
    reason = page.get_by_test_id("cache-disabled-reason")
    reason.wait_for()
    assert "never cached" in reason.inner_text()
    page.keyboard.press("Control+s")
    page.get_by_test_id("unsaved").wait_for(state="hidden")
    stored = editor_app.stored("form-test")
    assert stored["nodes"][2]["config"]["limit"] == 7
    assert stored["cache_strategy"]["product_search"]["ttl"] == 60


def test_unsaved_changes_survive_a_reload(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("draft-test")
    page = editor_page
    open_flow(page, editor_app, "draft-test")
    page.locator(NODE.format("node_5")).click()
    page.get_by_test_id("node-label").fill("Prompt builder")
    page.locator(NODE.format("node_5")).get_by_text("Prompt builder").wait_for()
    page.wait_for_timeout(1200)  # kept by a half-second timer
    page.reload()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    page.get_by_test_id("restored-banner").wait_for()
    page.get_by_test_id("unsaved").wait_for()
    assert page.locator(NODE.format("node_5")).get_by_text("Prompt builder").count() == 1
    assert editor_app.stored("draft-test")["nodes"][4]["label"] == "Build context"  # not saved
    page.get_by_test_id("discard-draft").click()
    page.locator(NODE.format("node_5")).get_by_text("Build context").wait_for()
    page.get_by_test_id("unsaved").wait_for(state="hidden")
