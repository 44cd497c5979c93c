"""The canvas element in headless Chromium: render, drag, connect, drop, delete, status, groups.

Each gesture is checked where it matters: the event arrived in Python (the harness records it)
and the props were mirrored (``/state``), not only that the DOM changed.
"""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import HarnessApp
from .gestures import center, drag

pytestmark = pytest.mark.browser

NODE = '.vue-flow__node[data-id="{}"]'


def open_canvas(page: Any, harness: HarnessApp, query: str = "") -> dict:
    page.goto(f"{harness.url}/{query}")
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    return harness.wait_event("ready")


def viewport(page: Any) -> dict:
    return page.evaluate("() => getElement(document.querySelector('.akis-canvas').id.slice(1)).getViewport()")


def test_demo_flow_renders_every_node_and_reports_ready(page: Any, harness: HarnessApp) -> None:
    ready = open_canvas(page, harness)
    assert ready["node_count"] == 9 and ready["edge_count"] == 11
    assert page.locator(".vue-flow__node").count() == 9
    assert page.locator(".vue-flow__edge").count() == 11
    labels = page.locator(".akis-node__label").all_inner_texts()
    assert "Search products" in labels and "AI response" in labels
    # the condition node has one labelled source handle per branch
    assert page.locator(f'{NODE.format("node_6")} .vue-flow__handle.source').count() == 2
    assert page.locator(f'{NODE.format("node_6")} .akis-branch').all_inner_texts() == ["yes", "no"]
    assert (
        page.locator(".akis-minimap rect:not(.akis-minimap__view)").count() == 9
        and page.locator(".vue-flow__controls").count() == 1
    )
    assert harness.get("/state")["ready"] is True


def test_three_hundred_nodes_render(page: Any, harness: HarnessApp) -> None:
    ready = open_canvas(page, harness, "?n=300")
    assert ready["node_count"] == 300
    assert page.locator(".vue-flow__node").count() == 300


def test_drag_a_node_into_a_group_frame(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    zoom = viewport(page)["zoom"]
    start = center(page, NODE.format("node_9"))
    frame = center(page, '.akis-frame[data-group-id="lookups"]')
    end = (frame[0], frame[1] + 40 * zoom)
    drag(page, start, end)
    moved = harness.wait_event("node_moved")
    assert moved["group"] == "lookups"
    (move,) = moved["moves"]
    assert move["id"] == "node_9"
    # the node sits under the pointer (the view may have auto-panned on the way) ...
    now = center(page, NODE.format("node_9"))
    assert abs(now[0] - end[0]) < 6 and abs(now[1] - end[1]) < 6  # within the 3 px drag threshold
    # ... and Python's props hold the new position, in flow coordinates
    vp = viewport(page)
    pane = page.locator(".vue-flow__pane").bounding_box()
    left = page.locator(NODE.format("node_9")).bounding_box()["x"]
    assert abs(move["x"] - (left - pane["x"] - vp["x"]) / vp["zoom"]) < 2
    assert harness.get("/state")["nodes"]["node_9"] == {"x": move["x"], "y": move["y"]}
    # and out again, onto empty canvas: no group
    drag(page, center(page, NODE.format("node_9")), (start[0], start[1] + 150))
    out = harness.wait_event("node_moved", lambda a: a["group"] is None)
    assert out["moves"][0]["id"] == "node_9"


def test_connect_two_handles_draws_the_edge(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    source = center(page, f'{NODE.format("node_1")} .vue-flow__handle.source')
    target = center(page, f'{NODE.format("node_9")} .vue-flow__handle.target')
    drag(page, source, target, steps=15)
    args = harness.wait_event("connect")
    assert (args["source"], args["target"], args["sourceHandle"]) == ("node_1", "node_9", None)
    assert args["id"] == "node_1->node_9"
    page.wait_for_selector('.vue-flow__edge[data-id="node_1->node_9"]', state="attached")
    assert "node_1->node_9" in harness.get("/state")["edges"]


def test_connect_from_a_branch_handle(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    source = center(page, f'{NODE.format("node_6")} .vue-flow__handle.source[data-handleid="no"]')
    target = center(page, f'{NODE.format("node_8")} .vue-flow__handle.target')
    drag(page, source, target, steps=15)
    args = harness.wait_event("connect")
    assert (args["source"], args["target"], args["sourceHandle"]) == ("node_6", "node_8", "no")


def test_python_can_take_back_an_edge_or_a_move(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness, "?reject=1")
    source = center(page, f'{NODE.format("node_1")} .vue-flow__handle.source')
    target = center(page, f'{NODE.format("node_9")} .vue-flow__handle.target')
    drag(page, source, target, steps=15)
    harness.wait_event("connect")
    page.wait_for_selector('.vue-flow__edge[data-id="node_1->node_9"]', state="detached")
    start = center(page, NODE.format("node_9"))
    drag(page, start, (start[0] - 200, start[1] + 100))
    harness.wait_event("node_moved")
    page.wait_for_function(
        "([x, y]) => { const r = document.querySelector('.vue-flow__node[data-id=\"node_9\"]').getBoundingClientRect();"
        " return Math.abs(r.x + r.width / 2 - x) < 2 && Math.abs(r.y + r.height / 2 - y) < 2; }", arg=list(start))
    assert harness.get("/state")["nodes"]["node_9"] == {"x": 1540.0, "y": 200.0}


def test_box_selection_with_shift(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    boxes = [page.locator(NODE.format(i)).bounding_box() for i in ("node_2", "node_3", "node_4")]
    top_left = (min(b["x"] for b in boxes) - 12, min(b["y"] for b in boxes) - 12)
    bottom_right = (max(b["x"] + b["width"] for b in boxes) + 12, max(b["y"] + b["height"] for b in boxes) + 12)
    page.keyboard.down("Shift")
    drag(page, top_left, bottom_right)
    page.keyboard.up("Shift")
    selection = harness.wait_event("selection_change", lambda a: len(a["nodes"]) == 3)
    assert selection["nodes"] == ["node_2", "node_3", "node_4"]


def test_a_frame_follows_its_members_while_dragging(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    frame = page.locator('.akis-frame[data-group-id="lookups"]')
    before = frame.bounding_box()
    start = center(page, NODE.format("node_2"))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 3, start[1] - 3)
    page.mouse.move(start[0] + 3, start[1] - 120, steps=8)
    during = frame.bounding_box()
    page.mouse.up()
    assert during["y"] < before["y"] - 100 and during["height"] > before["height"] + 100
    # dropped outside the frame as it was before the drag: the member is reported as leaving it
    assert harness.wait_event("node_moved")["group"] is None


def test_drop_a_palette_item_where_it_is_dropped(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    pane = page.locator(".vue-flow__pane").bounding_box()
    drop_x, drop_y = pane["x"] + pane["width"] * 0.5, pane["y"] + pane["height"] * 0.85
    page.drag_and_drop('.palette-item[data-type="template"]', ".vue-flow__pane",
                       target_position={"x": drop_x - pane["x"], "y": drop_y - pane["y"]})
    args = harness.wait_event("palette_drop")
    vp = viewport(page)
    expected_x = (drop_x - pane["x"] - vp["x"]) / vp["zoom"]
    expected_y = (drop_y - pane["y"] - vp["y"]) / vp["zoom"]
    assert args["type"] == "template"
    assert abs(args["x"] - expected_x) <= 2 and abs(args["y"] - expected_y) <= 2
    # the harness acts like the editor and adds the node there
    page.wait_for_selector(NODE.format("new_10"))
    assert page.locator(".vue-flow__node").count() == 10


def test_delete_key_asks_python_to_delete_the_selection(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    page.locator(NODE.format("node_9")).click()
    assert harness.wait_event("selection_change", lambda a: a["nodes"] == ["node_9"])["edges"] == []
    assert harness.wait_event("node_click")["id"] == "node_9"
    page.keyboard.press("Delete")
    assert harness.wait_event("delete_request") == {"nodes": ["node_9"], "edges": []}
    page.wait_for_selector(NODE.format("node_9"), state="detached")
    assert page.locator(".vue-flow__node").count() == 8
    assert "node_9" not in harness.get("/state")["nodes"]


def test_select_an_edge_and_delete_it_with_backspace(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    page.mouse.click(*center(page, '.vue-flow__edge[data-id="node_3->node_5"]'))
    harness.wait_event("selection_change", lambda a: a["edges"] == ["node_3->node_5"])
    page.keyboard.press("Backspace")
    assert harness.wait_event("delete_request") == {"nodes": [], "edges": ["node_3->node_5"]}
    page.wait_for_selector('.vue-flow__edge[data-id="node_3->node_5"]', state="detached")
    assert "node_3->node_5" not in harness.get("/state")["edges"]


def test_shift_click_selects_many_and_shortcuts_are_reported(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    page.locator(NODE.format("node_2")).click()
    page.locator(NODE.format("node_3")).click(modifiers=["Shift"])
    harness.wait_event("selection_change", lambda a: a["nodes"] == ["node_2", "node_3"])
    for keys, _action in [("Control+z", "undo"), ("Control+Shift+z", "redo"), ("Control+y", "redo"),
                         ("Control+c", "copy"), ("Control+v", "paste"), ("Control+a", "select_all"),
                         ("Control+s", "save")]:
        page.keyboard.press(keys)
    actions = lambda: [e["args"]["action"] for e in harness.events("shortcut")]  # noqa: E731
    harness.wait_event("shortcut", lambda a: a["action"] == "save")
    assert actions() == ["undo", "redo", "redo", "copy", "paste", "select_all", "save"]
    # typing in a text field keeps its own keys (undo, select all, delete) ...
    page.locator('input[data-testid="text-input"], [data-testid="text-input"] input').first.click()
    page.keyboard.type("abc")
    for keys in ["Control+a", "Control+z", "Backspace"]:
        page.keyboard.press(keys)
    # ... but Ctrl+S still saves
    page.keyboard.press("Control+s")
    harness.wait_event("shortcut", lambda a: len(harness.events("shortcut")) == 8)
    assert actions()[7:] == ["save"]
    assert harness.events("delete_request") == []


def test_update_node_changes_status_live(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    node = page.locator(NODE.format("node_1"))
    page.get_by_test_id("status-running").click()
    node.locator(".akis-status-running").wait_for()
    assert "running" in node.locator(".akis-status-chip").inner_text()
    page.get_by_test_id("status-done").click()
    node.locator(".akis-status-done").wait_for()
    assert "812 ms" in node.locator(".akis-status-chip").inner_text()
    page.get_by_test_id("status-failed").click()
    node.locator(".akis-status-failed").wait_for()
    assert node.locator(".akis-node").get_attribute("title") == "HTTP 503"


def test_a_full_prop_update_changes_only_what_changed(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness)
    page.get_by_test_id("status-done").click()  # a live status first: the re-send must keep it
    page.locator(f'{NODE.format("node_1")} .akis-status-done').wait_for()
    page.get_by_test_id("rename").click()
    page.locator(NODE.format("node_2")).get_by_text("Renamed").wait_for()
    assert page.locator(".akis-node__label").all_inner_texts().count("Renamed") == 1
    assert page.locator(f'{NODE.format("node_1")} .akis-status-done').count() == 1
    assert page.locator(".vue-flow__edge").count() == 11


def test_group_three_nodes_shows_a_frame_around_them(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness, "?groups=0")
    assert page.locator(".akis-frame").count() == 0
    page.get_by_test_id("group-three").click()
    frame = page.locator('.akis-frame[data-group-id="picked"]')
    frame.wait_for()
    box = frame.bounding_box()
    for node_id in ("node_2", "node_3", "node_4"):
        inner = page.locator(NODE.format(node_id)).bounding_box()
        assert box["x"] < inner["x"] and box["y"] < inner["y"]
        assert inner["x"] + inner["width"] < box["x"] + box["width"]
        assert inner["y"] + inner["height"] < box["y"] + box["height"]
    assert "Picked three" in frame.locator(".akis-frame__label").inner_text()
    problem = frame.get_by_test_id("group-problem")
    assert "parallel group" in problem.inner_text()
    assert "akis-frame--problem" in (frame.get_attribute("class") or "")


def test_problems_show_on_nodes_edges_and_groups(page: Any, harness: HarnessApp) -> None:
    open_canvas(page, harness, "?problems=1")
    badge = page.locator(NODE.format("node_7")).get_by_test_id("node-problem")
    assert badge.inner_text() == "2"
    assert badge.get_attribute("title") == "ai_response may not be cached\nprovider 'x' is not configured"
    edge_badge = page.get_by_test_id("edge-problem")
    assert edge_badge.count() == 1 and "skips the AI node" in edge_badge.get_attribute("title")
    assert page.locator(".vue-flow__edge.akis-edge--problem").count() == 1
    assert page.locator(".akis-frame--problem").count() == 1


@pytest.mark.parametrize("query", ["?dark=1", "?dark=2"], ids=["dark-prop", "dark-page"])
def test_dark_mode(page: Any, harness: HarnessApp, query: str) -> None:
    open_canvas(page, harness, query)
    assert page.locator(".akis-canvas.akis-dark").count() == 1
    background = page.locator(".akis-node").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(30, 41, 59)"
