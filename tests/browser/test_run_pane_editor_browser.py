"""The run pane where people use it: in the flow editor of the real app (``python app.py``),
in headless Chromium. Screenshots in artifacts/run_pane/."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .editor_app import EXAMPLE, EditorApp
from .run_pane_app import crafted_flow, seed_crafted_history
from .run_pane_server import shot

pytestmark = pytest.mark.browser


def open_run_tab(page: Any, app: EditorApp, flow_id: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 1100})
    page.goto(f"{app.url}/flows/{flow_id}")
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    page.get_by_test_id("tab-run").click()
    page.get_by_test_id("run-button").wait_for()


def test_run_the_demo_flow_from_the_editor(editor_page: Any, editor_app: EditorApp):
    demo = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    demo["nodes"][5]["config"].update(provider="mock", provider_options={"delay_ms": 100, "tokens_per_second": 60})
    editor_app.put_flow("run-pane-demo", demo)
    page = editor_page
    open_run_tab(page, editor_app, "run-pane-demo")
    page.get_by_test_id("run-button").click()
    page.wait_for_function(
        "(document.querySelector('[data-testid=run-status]') || {}).textContent?.startsWith('Succeeded')", timeout=20000
    )
    answer = page.get_by_test_id("answer-node_6").inner_text()
    assert answer.startswith("Thanks for your message!")
    page.wait_for_function("document.querySelector('[data-node-id=node_7]')?.dataset.status === 'done'", timeout=10000)
    statuses = page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-node-id]')]"
                             ".map(n => [n.dataset.nodeId, n.dataset.status]))")
    assert set(statuses.values()) <= {"done", "cached"}, statuses
    page.wait_for_selector("[data-testid=run-timeline] .main-svg")
    shot(page, "editor_run_done")
    page.get_by_test_id("run-timeline").scroll_into_view_if_needed()
    shot(page, "editor_run_timeline")
    page.get_by_test_id("dark-toggle").click()
    page.wait_for_timeout(300)
    shot(page, "editor_run_timeline_dark")
    page.get_by_role("tab", name="History").click()
    page.wait_for_selector("[data-testid^=history-run-]", timeout=10000)
    page.locator("[data-testid^=history-run-]").first.click()
    page.wait_for_selector("[data-testid=history-timeline] .main-svg", timeout=10000)
    shot(page, "editor_run_history")


def test_apply_a_suggestion_in_the_editor_makes_an_unsaved_edit(editor_page: Any, editor_app: EditorApp):
    editor_app.put_flow("crafted", crafted_flow())
    seed_crafted_history(editor_app.database)
    page = editor_page
    open_run_tab(page, editor_app, "crafted")
    assert page.locator('.vue-flow__edge[data-id="cat->search"]').count() == 1
    page.get_by_test_id("run-button").click()
    page.wait_for_selector("[data-testid=apply-rewire]", timeout=20000)
    page.get_by_test_id("apply-rewire").click()
    page.wait_for_function("!document.querySelector('.vue-flow__edge[data-id=\"cat->search\"]')", timeout=10000)
    page.get_by_text("Unsaved changes").wait_for()
    assert editor_app.stored("crafted")["edges"][1] == {"source": "cat", "target": "search"}, "saved only on Save"
    shot(page, "editor_suggestion_applied")
