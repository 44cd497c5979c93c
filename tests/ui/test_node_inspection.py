"""Inspecting a run's nodes in the run pane (NiceGUI ``User``): the node list after a run, a
node's inputs, rendered prompts, output and cache; one node run with pinned JSON inputs; run
from here; the timeline and the canvas selection following each other; History's runs too."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from editor.charts.timeline import selected_label
from editor.services.errors import NotFound
from storage.repos import node_runs
from tests.browser.run_pane_user import Page, pane_page


def editor_json(page: Page, marker: str) -> Any:
    element = page.user.find(marker=marker).elements.pop()
    return element.props["properties"]["content"]["json"]


async def test_a_run_s_nodes_show_inputs_prompts_output_and_cache(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    async with pane_page(tmp_path, caplog, "quick") as page:
        await page.run_to_end()
        await page.run_to_end()  # the second run's lookups come from the cache
        pane = page.pane
        await page.until(lambda: page.has("inspect-node-node_3"), what="the node list")
        await page.click("inspect-node-node_3")
        await page.until(lambda: page.has("inspect-inputs"), what="the node's details")
        assert editor_json(page, "inspect-inputs")["user_message"] == "Transpalet arıyorum"
        assert editor_json(page, "inspect-config")["query"] == "Transpalet arıyorum"  # rendered
        assert editor_json(page, "inspect-output")["products"], "the products it found"
        cache = page.user.find(marker="inspect-cache").elements.pop().text
        assert cache.startswith("cache hit · key tenant_1_product_search_") and "s left of 300 s" in cache
        assert selected_label(pane.timeline_plot.figure) == "Search products"  # its bar is outlined
        assert page.patches and pane.selected_node == "node_3"
        # the AI node: the prompts as sent, the model and the tokens
        await pane.inspection.pick("node_6")
        prompt = page.user.find(marker="inspect-prompt").elements.pop().text
        assert "Customer message: Transpalet arıyorum" in prompt
        assert "mock / claude-sonnet-4-5" in page.user.find(marker="inspect-model").elements.pop().text
        assert "tokens" in page.user.find(marker="inspect-facts").elements.pop().text
        # a click on a timeline bar selects that node and shows it
        await pane._bar_clicked(SimpleNamespace(args="node_5"))
        assert pane.selected_node == "node_5" and pane.inspection.selected == "node_5"
        assert selected_label(pane.timeline_plot.figure) == "Build context"
        # the canvas selecting a node shows it too
        await pane._canvas_selected(SimpleNamespace(args={"nodes": ["node_2"]}))
        assert pane.inspection.selected == "node_2"
        assert selected_label(pane.timeline_plot.figure) == "Detect category"


async def test_one_node_runs_with_pinned_inputs_and_from_here(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async with pane_page(tmp_path, caplog, "quick") as page:
        await page.run_to_end()
        pane = page.pane
        statuses: list[str] = []  # what the status line said as each run began
        begin = pane._begin

        def noting(live: Any, status: str) -> None:
            statuses.append(status)
            begin(live, status)
        monkeypatch.setattr(pane, "_begin", noting)
        first_run = pane.inspection.run_id
        await pane.inspection.pick("node_5")
        await page.until(lambda: page.has("pinned-inputs"), what="the run controls")
        pinned = {"user_message": "pinned question", "category": "forklift",
                  "products": [{"sku": "F-1", "name": "Pinned forklift", "capacity_kg": 1500, "price_eur": 9}]}
        page.user.find(marker="pinned-inputs").elements.pop().set_value(json.dumps(pinned))
        await page.click("pin-inputs")
        assert json.loads(pane.pins.get("node_5") or "{}") == pinned
        page.patches.clear()
        await page.click("run-node")
        await page.until(lambda: pane.inspection.run_id not in (None, first_run) and pane.idle.is_set(),
                         what="the one-node run")
        assert list(pane.inspection.views) == ["node_5"]  # the node alone (the helpers are hidden)
        output = editor_json(page, "inspect-output")
        assert output is not None, pane.inspection.views["node_5"].row["error"]
        assert "Customer message: pinned question" in output["context"] and "Pinned forklift" in output["context"]
        assert page.statuses("node_5")[-1] == "done" and {n for n, _ in page.patches} == {"node_5"}  # alone
        assert statuses[-1] == "Running node 'Build context' alone…"  # by its label, as on the canvas
        # run from here: the nodes before Answer keep the first run's outputs
        await pane.run_from("node_6", first_run)
        assert statuses[-1] == "Running from node 'Answer'…"
        views = pane.inspection.views
        assert views["node_3"].row["cache"] == "reused" and views["node_6"].row["status"] == "succeeded"
        assert pane.live is not None and pane.live.output and pane.live.output["answer"].startswith("Thanks")
        # bad pinned JSON: said plainly, nothing runs
        await pane.run_node("node_5", "{not json")
        await page.user.should_see("pinned inputs are not JSON")


async def test_history_runs_are_inspected_and_another_tenant_s_run_is_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with pane_page(tmp_path, caplog, "quick") as page:
        await page.run_to_end()
        pane = page.pane
        run_id = pane.inspection.run_id
        assert run_id is not None
        await pane.history.refresh()
        await pane.history.open(pane.history.runs[0])
        await page.until(lambda: page.has("inspect-node-node_3"), what="History's node list")
        # the service and the repository answer nothing for another tenant
        with pytest.raises(NotFound):
            await page.context.node_runs.nodes("2", run_id)
        with pytest.raises(NotFound):
            await page.context.node_runs.node("2", run_id, "node_3")
        assert page.context.database.call(node_runs.run_nodes, "2", run_id) == []
        assert (await page.context.node_runs.node("1", run_id, "node_3")).row["status"] == "succeeded"
        await asyncio.sleep(0)
