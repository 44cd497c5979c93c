"""Node inspection in headless Chromium: run a flow, click a node on the canvas and see what it
received, returned and how the cache answered; click a timeline bar and its node is selected; run
one node with pinned JSON inputs; a past run opened from History: its nodes inspected, its timeline
clicked, "Run from here"; pinned inputs kept with the draft (after a reload, in History too) and
only "Export with pinned inputs" carrying them. Screenshots go to artifacts/run_pane/inspection_*.png."""
from __future__ import annotations

import json
from pathlib import Path
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


DIALOG = ".q-dialog .q-card"  # History's run dialog


def wait_text(page: Any, selector: str, text: str, timeout: float = 10000) -> None:
    """Wait until the first element ``selector`` shows ``text``."""
    page.wait_for_function("([s, t]) => (document.querySelector(s) || {}).textContent?.includes(t)",
                           arg=[selector, text], timeout=timeout)


def run_and_wait(page: Any) -> None:
    page.click("[data-testid=run-button]")
    page.wait_for_function("(document.querySelector('[data-testid=run-status]') || {}).textContent"
                           "?.startsWith('Succeeded')", timeout=20000)
    page.wait_for_selector("[data-testid=run-pane] [data-testid=inspect-node-node_3]", timeout=10000)


def open_newest_history_run(page: Any) -> None:
    page.get_by_role("tab", name="History").click()
    page.wait_for_selector("[data-testid^=history-run-]", timeout=10000)
    page.locator("[data-testid^=history-run-]").first.click()
    page.wait_for_selector(f"{DIALOG} [data-testid=inspect-node-node_3]", timeout=10000)


def test_a_past_run_from_history_is_inspected_and_run_again_from_a_node(page: Any, server: RunPaneServer) -> None:
    open_flow(page, server, "quick", 8)
    run_and_wait(page)
    open_newest_history_run(page)
    # History -> the run -> a node in its list: what it received, returned and how the cache answered
    page.click(f"{DIALOG} [data-testid=inspect-node-node_3]")
    title = f"{DIALOG} [data-testid=inspect-title]"
    wait_text(page, title, "Search products")
    wait_text(page, f"{DIALOG} [data-testid=inspect-inputs]", "Transpalet arıyorum")
    assert "sku" in page.locator(f"{DIALOG} [data-testid=inspect-output]").inner_text()
    cache = page.locator(f"{DIALOG} [data-testid=inspect-cache]").inner_text()
    assert cache.startswith("cache ") and "key tenant_1_product_search_" in cache
    assert "active" in (page.locator(f"{DIALOG} [data-testid=inspect-node-node_3]").get_attribute("class") or "")
    page.wait_for_function(f"({SELECTED})() === 'node_3'")  # selected on the canvas too
    page.mouse.move(0, 0)  # no hover highlight in the screenshot
    shot(page, "inspection_history_node", DIALOG)
    # a bar of the run's timeline picks its node
    page.evaluate("document.querySelector('[data-testid=history-timeline]').scrollIntoView()")
    x, y = page.evaluate("""() => {
      const plot = document.querySelector('[data-testid=history-timeline]');
      const tick = [...plot.querySelectorAll('.ytick text')].find(t => t.textContent === 'Answer');
      const ty = tick.getBoundingClientRect().top + tick.getBoundingClientRect().height / 2;
      const r = [...plot.querySelectorAll('.bars .point path')].map(p => p.getBoundingClientRect())
        .filter(b => b.height > 0 && Math.abs(b.top + b.height / 2 - ty) < b.height)
        .sort((a, b) => b.width - a.width)[0];
      return [r.left + r.width / 2, r.top + r.height / 2];
    }""")
    page.mouse.click(x, y)
    wait_text(page, title, "Answer")
    assert "Customer message: Transpalet" in page.locator(f"{DIALOG} [data-testid=inspect-prompt]").inner_text()
    shot(page, "inspection_history_timeline_click", DIALOG)
    # Run from here: the dialog closes, the Test run tab shows the new run, the nodes before reused
    page.locator(f"{DIALOG} [data-testid=run-from-here]").scroll_into_view_if_needed()
    page.click(f"{DIALOG} [data-testid=run-from-here]")
    page.wait_for_selector(DIALOG, state="detached", timeout=10000)
    page.wait_for_function("(document.querySelector('[data-testid=run-status]') || {}).textContent"
                           "?.startsWith('Succeeded')", timeout=20000)
    pane = "[data-testid=run-pane]"
    page.wait_for_selector(f"{pane} [data-testid=inspect-node-node_3]", timeout=10000)
    assert "reused" in page.locator(f"{pane} [data-testid=inspect-node-node_3]").inner_text()
    assert "reused" not in page.locator(f"{pane} [data-testid=inspect-node-node_6]").inner_text()
    wait_text(page, f"{pane} [data-testid=inspect-title]", "Answer")  # the node it ran from, selected
    assert "Thanks" in page.locator(pane).inner_text()  # the new answer
    page.click(f"{pane} [data-testid=inspect-node-node_3]")
    wait_text(page, f"{pane} [data-testid=inspect-cache]", "output reused from the earlier run")
    shot(page, "inspection_run_from_here", pane)


def test_pinned_inputs_stay_with_the_draft_and_only_their_export_carries_them(
        page: Any, server: RunPaneServer) -> None:
    open_flow(page, server, "quick", 8)
    run_and_wait(page)
    pane = "[data-testid=run-pane]"
    page.click(f"{pane} [data-testid=inspect-node-node_5]")
    wait_text(page, f"{pane} [data-testid=inspect-title]", "Build context")
    pinned = {"user_message": "pinned question", "category": "forklift",
              "products": [{"sku": "F-1", "name": "Pinned forklift", "capacity_kg": 1500, "price_eur": 9}]}
    page.locator(f"{pane} [data-testid=pinned-inputs]").fill(json.dumps(pinned))
    page.click(f"{pane} [data-testid=pin-inputs]")
    wait_text(page, f"{pane} [data-testid=pinned-state]", "Pinned")
    shot(page, "inspection_pinned", pane)
    # kept with the draft: after a reload and another run, the node's inputs are the pinned ones
    page.reload()
    page.wait_for_function("document.querySelectorAll('[data-node-id]').length === 8", timeout=15000)
    run_and_wait(page)
    page.click(f"{pane} [data-testid=inspect-node-node_5]")
    wait_text(page, f"{pane} [data-testid=pinned-state]", "Pinned")
    assert json.loads(page.locator(f"{pane} [data-testid=pinned-inputs]").input_value()) == pinned
    # ... and a past run opened from History offers them too
    open_newest_history_run(page)
    page.click(f"{DIALOG} [data-testid=inspect-node-node_5]")
    wait_text(page, f"{DIALOG} [data-testid=pinned-state]", "Pinned")
    assert json.loads(page.locator(f"{DIALOG} [data-testid=pinned-inputs]").input_value()) == pinned
    shot(page, "inspection_pinned_history", f"{DIALOG} [data-testid=inspect-run-section]")  # below the fold
    page.get_by_role("button", name="Close").click()
    page.wait_for_selector(DIALOG, state="detached", timeout=10000)
    page.get_by_role("tab", name="Test run").click()
    # Export with pinned inputs: node_5 carries them in ui.pinned; the flow as kept has none
    with page.expect_download(timeout=10000) as download:
        page.click("[data-testid=export-pinned]")
    assert download.value.suggested_filename.endswith(".json")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    by_id = {n["id"]: n for n in exported["nodes"]}
    assert by_id["node_5"]["ui"]["pinned"] == pinned
    assert all("pinned" not in (n.get("ui") or {}) for i, n in by_id.items() if i != "node_5")
    plain = server.get("/test/state/quick")["document"]  # what a save or the toolbar's export writes
    assert [n["id"] for n in plain["nodes"]] == list(by_id)
    assert "pinned" not in json.dumps(plain)
    page.mouse.move(0, 0)  # the button's tooltip hidden
    page.wait_for_selector(".q-tooltip", state="detached", timeout=5000)
    shot(page, "inspection_export_pinned", pane)
