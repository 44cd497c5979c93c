"""An agent run in the run pane, in headless Chromium: its model turns and tool call are rows
right under the agent on the timeline. Screenshots in artifacts/run_pane/."""
from __future__ import annotations

from typing import Any

import pytest

from .run_pane_server import RunPaneServer, shot

pytestmark = pytest.mark.browser

TICKS = "[...document.querySelectorAll('[data-testid=run-timeline] .ytick text')].map(t => t.textContent)"


def test_agent_steps_are_rows_under_the_agent_on_the_timeline(page: Any, server: RunPaneServer) -> None:
    page.set_viewport_size({"width": 1440, "height": 1600})
    page.goto(f"{server.url}/test/run/agent")
    page.wait_for_function("document.querySelectorAll('[data-node-id]').length === 6", timeout=15000)
    page.click("[data-testid=run-button]")
    page.wait_for_function("(document.querySelector('[data-testid=run-status]') || {}).textContent"
                           "?.startsWith('Succeeded')", timeout=20000)
    page.wait_for_selector("[data-testid=run-timeline] .main-svg", timeout=10000)
    page.wait_for_function(TICKS + ".some(t => t.includes('tool 1'))", timeout=10000)
    ticks = page.evaluate(TICKS)[::-1]  # the axis is reversed: the DOM lists the bottom row first
    agent = ticks.index("Agent")
    assert ticks[agent + 1:agent + 4] == ["\u21b3 model 1: calls product_search", "\u21b3 tool 1: product_search",
                                          "\u21b3 model 2: answer"]
    answer = page.locator("[data-testid=answer-agent]").inner_text()
    assert "FL-" in answer or "TP-" in answer
    shot(page, "run_agent_done")
    shot(page, "run_agent_timeline", "[data-testid=run-timeline]")
