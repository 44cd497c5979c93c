"""Fit and finish of the flow editor in headless Chromium: the layout on a 1024x768 laptop
screen, sticky notes, clicking a member of a new group, where a palette click puts a node.
Screenshots go to artifacts/editor/ (look at them after a layout change)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .editor_app import EditorApp
from .gestures import center, drag
from .test_editor_browser import NODE, open_flow, save, shot

pytestmark = pytest.mark.browser


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not visible"
    return found


def test_a_laptop_screen_folds_the_panels_and_remembers_the_choice(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("laptop")
    page = editor_page
    page.set_viewport_size({"width": 1024, "height": 768})
    open_flow(page, editor_app, "laptop")
    canvas = box(page, ".akis-canvas")
    assert canvas["width"] >= 900, f"the canvas gets {canvas['width']} px of 1024"
    assert page.get_by_test_id("unfold-palette").is_visible() and page.get_by_test_id("unfold-side").is_visible()
    assert not page.get_by_test_id("palette-search").is_visible()
    minimap = box(page, ".akis-minimap svg")
    assert minimap["width"] == 200  # a 940 px canvas keeps the full minimap
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024, "the page scrolls sideways"
    shot(page, "laptop_1024_folded")

    page.get_by_test_id("unfold-side").click()  # the inspector is wanted: open it, and it stays open
    page.get_by_test_id("tab-inspector").wait_for()
    page.wait_for_function("document.querySelector('.akis-canvas').getBoundingClientRect().width < 700")
    assert box(page, ".akis-minimap svg")["width"] == 120  # a narrow canvas gets a smaller minimap
    page.reload()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    assert page.get_by_test_id("tab-inspector").is_visible() and page.get_by_test_id("unfold-palette").is_visible()
    page.locator(NODE.format("node_3")).click()
    page.get_by_test_id("node-label").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    shot(page, "laptop_1024_inspector_open")
    page.get_by_test_id("fold-close-side").click()  # and folding it again is remembered too
    page.reload()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    assert page.get_by_test_id("unfold-side").is_visible()
    page.get_by_test_id("dark-toggle").click()
    page.wait_for_function("document.body.classList.contains('body--dark')")
    shot(page, "laptop_1024_dark")
    page.get_by_test_id("dark-toggle").click()  # the next test's page starts light


def test_sticky_notes_edit_resize_save_export_and_undo(editor_page: Any, editor_app: EditorApp,
                                                       tmp_path: Path) -> None:
    editor_app.put_flow("notes")
    page = editor_page
    open_flow(page, editor_app, "notes")
    page.get_by_test_id("palette-search").fill("comment")  # the note is found like a node type
    page.get_by_test_id("palette-sticky_note").click()
    note = page.get_by_test_id("sticky-note")
    note.wait_for()
    note.dblclick()
    editor = page.get_by_test_id("sticky-note-editor")
    editor.fill("# Pricing rules\nAsk **sales** before changing the `limit`.\n\n<b>raw</b>")
    page.locator(".vue-flow__pane").click(position={"x": 30, "y": 30})  # leaving the field keeps the text
    note.locator("h1", has_text="Pricing rules").wait_for()
    assert note.locator("strong").inner_text() == "sales" and note.locator("b").count() == 0  # raw HTML escaped
    before = box(page, '[data-testid="sticky-note"]')
    handle = center(page, '[data-testid="sticky-note-resize"]')
    drag(page, handle, (handle[0] + 120, handle[1] + 60))
    page.wait_for_function("document.querySelector('[data-testid=sticky-note]').getBoundingClientRect().width > "
                           f"{before['width'] + 60}")
    page.locator(".akis-note__body").click()  # selected: its colours show; pick blue
    note.locator('[data-tone="blue"]').click()
    page.locator(".akis-note--blue.akis-note").wait_for()
    shot(page, "sticky_note")
    save(page)
    stored = editor_app.stored("notes")
    (kept,) = stored["notes"]
    assert kept["text"].startswith("# Pricing rules") and kept["width"] > 300 and kept["height"] > 180
    assert kept["color"] == "blue"

    page.reload()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    note.locator("h1", has_text="Pricing rules").wait_for()
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    exported = tmp_path / "notes.json"
    download.value.save_as(exported)
    assert json.loads(exported.read_text(encoding="utf-8"))["notes"] == stored["notes"]

    page.locator(".akis-note__body").click()  # select the note, then Delete and Ctrl+Z bring it back
    page.keyboard.press("Delete")
    note.wait_for(state="detached")
    page.keyboard.press("Control+z")
    note.locator("h1", has_text="Pricing rules").wait_for()


def test_clicking_a_member_of_a_new_group_selects_it(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("grouping")
    page = editor_page
    open_flow(page, editor_app, "grouping")
    page.locator(NODE.format("node_6")).click()
    page.locator(NODE.format("node_7")).click(modifiers=["Shift"])
    page.get_by_test_id("group").click()
    page.get_by_test_id("group-label").wait_for()
    page.locator(NODE.format("node_6")).click()
    page.get_by_test_id("node-label").wait_for()
    assert page.get_by_test_id("node-label").input_value() == page.locator(
        NODE.format("node_6")).locator(".akis-node__label").inner_text()
    assert page.locator(".vue-flow__node.selected").count() == 1
    page.locator('.akis-frame__label').last.click()  # the group again, then the same node: its form comes back
    page.get_by_test_id("group-label").wait_for()
    page.locator(NODE.format("node_6")).click()
    page.get_by_test_id("node-label").wait_for()

    # a node that failed with on_error "continue" (as the run pane patches it) does not look like a plain failure
    page.evaluate("getElement(document.querySelector('.akis-canvas').id.slice(1))"
                  ".updateNode('node_3', {status: 'continued', error: 'timeout (the run went on)'})")
    chip = page.locator(NODE.format("node_3")).locator(".akis-status-chip")
    assert chip.inner_text().strip().endswith("failed, continued")
    color = chip.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color != page.evaluate("getComputedStyle(document.querySelector('.akis-canvas'))"
                                  ".getPropertyValue('--akis-problem')"), "not the plain red of a failure"
    shot(page, "group_member_and_continued_failure")


def test_a_palette_click_places_the_node_in_free_space_on_screen(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("placing")
    page = editor_page
    open_flow(page, editor_app, "placing")
    page.locator(NODE.format("node_4")).click()  # a node in the middle of the flow: right of it is taken
    for added in ("node_9", "node_10", "node_11"):
        page.get_by_test_id("palette-delay").click()
        page.locator(NODE.format(added)).wait_for()
        page.wait_for_timeout(300)  # the view may follow the new node
        canvas = box(page, ".akis-canvas")
        mine = box(page, NODE.format(added))
        assert canvas["x"] <= mine["x"] and mine["x"] + mine["width"] <= canvas["x"] + canvas["width"], added
        assert canvas["y"] <= mine["y"] and mine["y"] + mine["height"] <= canvas["y"] + canvas["height"], added
        minimap = box(page, ".akis-minimap")
        assert mine["y"] + mine["height"] <= minimap["y"] or mine["x"] + mine["width"] <= minimap["x"], \
            f"{added} is under the minimap"
        for other in page.locator(".vue-flow__node-akis").all():
            if other.get_attribute("data-id") == added:
                continue
            theirs = other.bounding_box()
            assert theirs is not None
            apart = (mine["x"] + mine["width"] <= theirs["x"] or theirs["x"] + theirs["width"] <= mine["x"]
                     or mine["y"] + mine["height"] <= theirs["y"] or theirs["y"] + theirs["height"] <= mine["y"])
            assert apart, f"{added} lies on {other.get_attribute('data-id')}"
    shot(page, "palette_placement")


def test_the_run_pane_shows_a_disabled_stop_unclipped_output_and_chat_once(editor_page: Any,
                                                                          editor_app: EditorApp) -> None:
    editor_app.put_flow("running")
    page = editor_page
    open_flow(page, editor_app, "running")
    page.get_by_test_id("tab-run").click()
    stop = page.get_by_test_id("stop-button")
    stop.wait_for()
    assert stop.is_disabled()
    red = stop.evaluate("e => getComputedStyle(e).backgroundColor")
    assert red not in ("rgb(193, 0, 21)", "rgb(220, 38, 38)"), stop.evaluate("e => e.outerHTML.slice(0, 400)")
    page.get_by_test_id("run-button").click()
    output = page.get_by_test_id("run-output")
    output.wait_for(timeout=30000)
    assert output.evaluate("e => { const p = e.querySelector('pre'); return p.scrollWidth <= p.clientWidth + 1 }"), \
        "the Output JSON runs out of the panel"
    output.scroll_into_view_if_needed()
    shot(page, "run_pane_output")

    page.get_by_test_id("chat-switch").click()  # chat mode: the box under the transcript, the answer once
    page.get_by_test_id("chat-assistant").wait_for(timeout=30000)  # the first run's turn, saved in the background
    page.get_by_test_id("run-message").fill("And a forklift?")
    page.get_by_test_id("run-message").press("Enter")  # Enter sends, as in a chat
    page.wait_for_function("document.querySelectorAll('[data-testid=chat-assistant]').length === 2", timeout=30000)
    page.get_by_test_id("answer-card-node_6").wait_for(state="hidden")  # the reply is in the transcript only
    assert not page.get_by_test_id("run-output").is_visible()
    transcript = box(page, '[data-testid="chat-assistant"] >> nth=1')
    assert box(page, '[data-testid="run-message"]')["y"] > transcript["y"] + transcript["height"]
    page.get_by_test_id("run-message").scroll_into_view_if_needed()
    shot(page, "run_pane_chat")
