"""Node inspection in headless Chromium: run a flow, click a node on the canvas and see what it
received, returned and how the cache answered; click a timeline bar and its node is selected; run
one node with pinned JSON inputs. Screenshots go to artifacts/run_pane/inspection_*.png."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .run_pane_server import RunPaneServer, shot
from .test_run_pane_browser import open_flow

pytestmark = pytest.mark.browser

SELECTED = "() => (document.querySelector('.vue-flow__node.selected [data-node-id]') || {dataset: {}}).dataset.nodeId"
TITLE = "[data-testid=inspect-title]"


def bar_centre(page: Any, label: str) -> tuple[float, float]:
    """The middle of the timeline bar in the row named ``label`` (found by its tick label)."""
    return page.evaluate("""(label) => {
      const plot = document.querySelector('[data-testid=run-timeline]');
      const tick = [...plot.querySelectorAll('.ytick text')].find(t => t.textContent === label);
      const y = tick.getBoundingClientRect().top + tick.getBoundingClientRect().height / 2;
      const bars = [...plot.querySelectorAll('.bars .point path')].map(p => p.getBoundingClientRect())
        .filter(r => r.height > 0 && Math.abs(r.top + r.height / 2 - y) < r.height);
      const r = bars.sort((a, b) => b.width - a.width)[0];
      return [r.left + r.width / 2, r.top + r.height / 2];
    }""", label)


def test_inspect_nodes_follow_the_timeline_and_run_one_node(page: Any, server: RunPaneServer) -> None:
    open_flow(page, server, "quick", 8)
    page.click("[data-testid=run-button]")
    page.wait_for_function("(document.querySelector('[data-testid=run-status]') || {}).textContent"
                           "?.startsWith('Succeeded')", timeout=20000)
    page.wait_for_selector("[data-testid=inspect-node-node_3]", timeout=10000)
    # a node clicked on the canvas: what it received, its rendered config, its output, the cache
    page.click("[data-node-id=node_3]")
    page.wait_for_function(f"(document.querySelector('{TITLE}') || {{}}).textContent?.startsWith('Search products')")
    details = page.locator("[data-testid=inspect-details]")
    page.wait_for_function("document.querySelector('[data-testid=inspect-inputs]')?.textContent"
                           ".includes('Transpalet')")
    assert "Transpalet arıyorum" in details.locator("[data-testid=inspect-inputs]").inner_text()
    assert "sku" in details.locator("[data-testid=inspect-output]").inner_text()
    cache = details.locator("[data-testid=inspect-cache]").inner_text()
    assert cache.startswith("cache miss · key tenant_1_product_search_") and "left of 300 s" in cache
    shot(page, "inspection_node", "[data-testid=run-pane]")
    # a click on the Answer bar selects the AI node on the canvas and shows its prompts
    x, y = bar_centre(page, "Answer")
    page.mouse.click(x, y)
    page.wait_for_function(f"(document.querySelector('{TITLE}') || {{}}).textContent?.startsWith('Answer')")
    page.wait_for_function(f"({SELECTED})() === 'node_6'")
    assert "Customer message: Transpalet" in page.locator("[data-testid=inspect-prompt]").inner_text()
    shot(page, "inspection_timeline_click")
    # one node with pinned JSON inputs
    page.click("[data-node-id=node_5]")
    page.wait_for_function(f"(document.querySelector('{TITLE}') || {{}}).textContent?.startsWith('Build context')")
    pinned = {"user_message": "pinned question", "category": "forklift",
              "products": [{"sku": "F-1", "name": "Pinned forklift", "capacity_kg": 1500, "price_eur": 9}]}
    page.locator("[data-testid=pinned-inputs]").fill(json.dumps(pinned))
    page.click("[data-testid=run-node]")
    page.wait_for_function("document.querySelector('[data-testid=inspect-output]')?.textContent"
                           ".includes('Pinned forklift')", timeout=15000)
    assert page.locator("[data-testid=inspect-nodes] .q-item").count() == 1  # the node alone
    assert page.evaluate(SELECTED) == "node_5"
    shot(page, "inspection_pinned_run", "[data-testid=run-pane]")
