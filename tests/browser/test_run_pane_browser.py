"""The run pane in headless Chromium: a run watched live, Stop, Compare, suggestions with Apply.
Screenshots go to artifacts/run_pane/."""
from __future__ import annotations

import time
from typing import Any

import pytest

from .run_pane_app import seed_crafted_history
from .run_pane_server import RunPaneServer, shot

pytestmark = pytest.mark.browser

NODES = ["node_1", "node_2", "node_3", "node_4", "node_5", "node_6", "node_7", "node_8"]
SAMPLE = """() => ({
  answer: (document.querySelector('[data-testid=answer-node_6]') || {}).textContent || '',
  status: (document.querySelector('[data-testid=run-status]') || {}).textContent || '',
  nodes: Object.fromEntries([...document.querySelectorAll('[data-node-id]')]
    .map(n => [n.dataset.nodeId, n.dataset.status])),
})"""


BARS = "[...document.querySelectorAll('[data-testid=run-timeline] .bars .point path')]"
FILLED_BARS = BARS + ".filter(p => getComputedStyle(p).fillOpacity !== '0').length"
OUTLINES = BARS + ".filter(p => getComputedStyle(p).fillOpacity === '0').length"


def open_flow(page: Any, server: RunPaneServer, name: str, nodes: int) -> None:
    page.set_viewport_size({"width": 1440, "height": 1600})  # the whole pane in one screenshot
    page.goto(f"{server.url}/test/run/{name}")
    page.wait_for_function(f"document.querySelectorAll('[data-node-id]').length === {nodes}", timeout=15000)


def sample_until(page: Any, done: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    """What the page shows, sampled every ~20 ms until ``done(sample)``."""
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sample = page.evaluate(SAMPLE)
        samples.append(sample)
        if done(sample):
            return samples
        page.wait_for_timeout(20)
    raise AssertionError(f"timed out; last sample: {samples[-1] if samples else None}")


def test_a_run_is_watched_live_then_its_timeline_appears(page: Any, server: RunPaneServer):
    open_flow(page, server, "demo", len(NODES))
    page.click("[data-testid=run-button]")
    samples = sample_until(page, lambda s: s["status"].startswith("Succeeded"))
    answer = samples[-1]["answer"]
    lengths = [len(s["answer"]) for s in samples]
    growing = sorted({n for n in lengths if 0 < n < len(answer)})
    assert len(growing) >= 3, f"the answer should grow word by word; lengths seen: {sorted(set(lengths))}"
    assert lengths == sorted(lengths), "text is only ever appended"
    assert answer.startswith("Thanks for your message!")
    ai_states = [s["nodes"].get("node_6") for s in samples]
    assert "running" in ai_states and ai_states.index("running") < len(ai_states) - 1
    assert {"waiting", "running"} & set(ai_states) and ai_states[-1] == "done"
    page.wait_for_function("document.querySelector('[data-node-id=node_7]').dataset.status === 'done'", timeout=10000)
    final = page.evaluate(SAMPLE)["nodes"]
    assert all(final[n] in ("done", "cached") for n in NODES), final
    page.wait_for_selector("[data-testid=run-timeline] .main-svg", timeout=10000)
    # one bar per node; the background save adds its bar when it is done, after the answer
    page.wait_for_function(FILLED_BARS + " === 8", timeout=10000)
    assert page.evaluate(OUTLINES) == 5, "the critical path: message, the slowest lookup, context, answer, output"
    assert "first chunk" in page.locator("[data-testid=answer-meta-node_6]").inner_text()
    assert page.locator("[data-testid=run-button]").is_enabled()
    assert not page.locator("[data-testid=stop-button]").is_enabled()
    shot(page, "run_demo_done")
    shot(page, "run_demo_timeline", "[data-testid=run-timeline]")
    # a second run: the lookups come from the cache, with their own look on the canvas
    page.click("[data-testid=run-button]")
    sample_until(page, lambda s: s["status"].startswith("Succeeded") and s["answer"] == answer)
    page.wait_for_function("document.querySelector('[data-node-id=node_3]').dataset.status === 'cached'", timeout=5000)
    shot(page, "run_demo_cached")


def test_stop_cancels_a_long_run(page: Any, server: RunPaneServer):
    open_flow(page, server, "slow", len(NODES))
    page.click("[data-testid=run-button]")
    sample_until(page, lambda s: len(s["answer"]) > 20)
    page.click("[data-testid=stop-button]")
    stopped = sample_until(page, lambda s: s["status"].startswith("Cancelled"))[-1]
    page.wait_for_timeout(600)
    later = page.evaluate(SAMPLE)
    assert later["answer"] == stopped["answer"], "no text after Stop"
    assert later["nodes"]["node_6"] == "skipped"
    assert len(later["answer"]) < 1000, "the 200-word answer was cut short"
    shot(page, "run_stopped")


def test_compare_shows_both_timelines_and_the_time_saved(page: Any, server: RunPaneServer):
    open_flow(page, server, "seed", len(NODES))
    page.click("[data-testid=compare-button]")
    page.wait_for_selector("[data-testid=compare-timeline] .main-svg", timeout=20000)
    status = page.locator("[data-testid=run-status]").inner_text()
    assert status.startswith("Sequential") and "saved" in status, status
    title = page.locator("[data-testid=compare-timeline] .gtitle").text_content()
    assert "→ parallel" in title and "saved" in title, title
    page.locator("[data-testid=compare-timeline]").scroll_into_view_if_needed()
    shot(page, "compare_seed")
    shot(page, "compare_seed_chart", "[data-testid=compare-timeline]")


def test_a_crafted_flow_yields_suggestions_and_apply_changes_the_canvas(page: Any, server: RunPaneServer):
    seed_crafted_history(server.database)
    open_flow(page, server, "crafted", 7)
    assert page.locator('.vue-flow__edge[data-id="cat->search"]').count() == 1
    page.click("[data-testid=run-button]")
    page.wait_for_selector("[data-testid=suggestion-rewire]", timeout=15000)
    page.wait_for_selector("[data-testid=suggestion-add_cache]")
    page.wait_for_selector("[data-testid=suggestion-critical]")
    page.locator("[data-testid=suggestion-rewire]").scroll_into_view_if_needed()
    shot(page, "suggestions_before_apply")
    page.click("[data-testid=apply-rewire]")
    page.wait_for_function("!document.querySelector('.vue-flow__edge[data-id=\"cat->search\"]')", timeout=5000)
    assert page.locator('.vue-flow__edge[data-id="in->search"]').count() == 1
    state = server.get("/test/state/crafted")
    assert state["applied"] == 1
    assert [sorted(g["nodes"]) for g in state["document"]["parallel_groups"]] == [["cat", "search"]]
    page.wait_for_function("!document.querySelector('[data-testid=suggestion-rewire]')", timeout=5000)
    shot(page, "suggestions_after_apply")
