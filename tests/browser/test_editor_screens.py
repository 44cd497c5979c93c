"""Every editor page and dialog in light and dark mode, saved as screenshots under
artifacts/editor/screens/ for a person to look at; each state is checked to be showing.
"""
from __future__ import annotations

from typing import Any

import pytest

from .editor_app import ARTIFACTS, EditorApp
from .test_editor_browser import NODE, open_flow

pytestmark = pytest.mark.browser
SCREENS = ARTIFACTS / "screens"


def capture(page: Any, name: str, dark: bool) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)  # let transitions end (dialogs fade in)
    page.screenshot(path=str(SCREENS / f"{name}_{'dark' if dark else 'light'}.png"))


def set_dark(page: Any, dark: bool) -> None:
    if page.evaluate("document.body.classList.contains('body--dark')") != dark:
        page.get_by_test_id("dark-toggle").click()
        page.wait_for_function(f"document.body.classList.contains('body--dark') === {str(dark).lower()}")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_screen(editor_page: Any, editor_app: EditorApp, dark: bool) -> None:
    page = editor_page
    flow_id = f"screens-{'dark' if dark else 'light'}"
    document = editor_app.put_flow(flow_id)
    document["nodes"][2]["config"]["limit"] = 3
    editor_app.put_flow(flow_id, document)  # a second version, for the history dialog
    page.goto(editor_app.url + "/")
    set_dark(page, dark)
    page.get_by_test_id(f"flow-{flow_id}").wait_for()
    capture(page, "flows_list", dark)
    page.get_by_test_id("new-flow").click()
    page.get_by_test_id("new-flow-name").wait_for()
    capture(page, "new_flow_dialog", dark)
    page.keyboard.press("Escape")
    page.get_by_test_id("import").click()
    page.get_by_test_id("import-upload").wait_for()
    capture(page, "import_dialog", dark)
    page.keyboard.press("Escape")

    open_flow(page, editor_app, flow_id)
    assert page.locator(".akis-canvas.akis-dark").count() == (1 if dark else 0)
    capture(page, "editor", dark)
    page.locator(NODE.format("node_3")).click()
    page.get_by_test_id("field-query").wait_for()
    capture(page, "inspector_config", dark)
    page.get_by_test_id("tab-cache").click()
    page.get_by_test_id("cache-ttl").wait_for()
    capture(page, "inspector_cache", dark)
    page.get_by_test_id("tab-policy").click()
    page.get_by_test_id("policy-timeout").wait_for()
    capture(page, "inspector_policy", dark)
    page.locator('.akis-frame__label').first.click()
    page.get_by_test_id("group-join").wait_for()
    capture(page, "inspector_group", dark)
    page.locator(NODE.format("node_6")).click()
    page.locator(NODE.format("node_8")).click(modifiers=["Shift"])
    page.get_by_test_id("inspector-group").wait_for()
    capture(page, "inspector_selection", dark)
    page.locator(".vue-flow__pane").click(position={"x": 30, "y": 30})
    page.locator(NODE.format("node_8")).click()
    page.get_by_test_id("tab-config").click()
    page.get_by_test_id("field-fields").fill('{"answer": "{{ missing_value "}')
    page.get_by_test_id("problem-bar").click()
    page.get_by_test_id("problem-row").first.wait_for()
    capture(page, "problems", dark)
    page.get_by_test_id("versions").click()
    page.get_by_test_id("diff-row").first.wait_for()
    capture(page, "versions_dialog", dark)
    page.keyboard.press("Escape")
    page.get_by_test_id("tab-run").click()
    page.wait_for_timeout(300)
    capture(page, "run_tab", dark)
