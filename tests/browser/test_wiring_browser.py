"""The wiring warnings in Chromium (issue 18, items 4 and 5): the problem bar lists them by node
label, in amber after the errors; a warned node carries an amber badge. Screenshot in
artifacts/editor/wiring_problems.png."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .editor_app import ARTIFACTS, EXAMPLE, EditorApp

pytestmark = pytest.mark.browser


def test_the_problem_bar_names_wiring_warnings_by_label(editor_page: Any, editor_app: EditorApp) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["nodes"].append({"id": "node_9", "type": "http_request", "label": "Call stock API",
                          "config": {"url": "http://127.0.0.1:9/stock"}, "ui": {"x": 40, "y": 420}})
    context = next(n for n in data["nodes"] if n["id"] == "node_5")
    context["config"] = {**context.get("config", {}), "template": "Products: {{ prodcuts }}"}
    editor_app.put_flow("wiring-test", data)
    page = editor_page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{editor_app.url}/flows/wiring-test")
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    summary = page.get_by_test_id("problem-summary")
    assert summary.inner_text() == "No problems · 3 warnings"
    assert page.get_by_test_id("validate").inner_text().strip().endswith("Valid · 3 warnings")
    badge = page.locator('.vue-flow__node[data-id="node_9"] .akis-badge--warning')
    assert badge.inner_text().strip() == "2 warnings"
    page.get_by_test_id("problem-bar").click()
    rows = page.get_by_test_id("problem-row")
    rows.first.wait_for()
    texts = rows.all_inner_texts()
    assert any("node 'Call stock API' is not connected to the input 'User message'" in t for t in texts)
    assert any("node 'Call stock API' leads nowhere" in t for t in texts)
    assert any("node 'Build context', field 'config.template' reads 'prodcuts'" in t
               and "(did you mean 'products'?)" in t for t in texts)
    assert not any("node_9" in t or "node_5" in t for t in texts)  # labels, not ids
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wiring_problems.png"))
    rows.nth(0).click()  # a warning selects its node; its inspector lists the node's warnings
    page.get_by_test_id("inspector-warning").first.wait_for()
    assert page.get_by_test_id("inspector-warning").count() == 2
    page.screenshot(path=str(ARTIFACTS / "wiring_inspector.png"))
