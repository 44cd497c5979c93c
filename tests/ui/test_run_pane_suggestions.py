"""Suggestions in the run pane: they appear when a run ends, from the flow and its stored
metrics, and Apply hands the changed flow to the editor as an unsaved edit."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.run_pane_app import PAGES, seed_crafted_history
from tests.browser.run_pane_user import pane_page


async def test_suggestions_appear_after_a_run_and_apply_changes_the_flow(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "crafted") as page:
        seed_crafted_history(page.context.database)
        assert not page.pane.suggestions.visible
        await page.run_to_end()
        view = page.pane.suggestions
        assert view.visible
        kinds = [(s.kind, s.node_ids) for s in view.suggestions]
        assert kinds[:4] == [("rewire", ("cat", "search")), ("add_cache", ("search",)), ("add_cache", ("cat",)),
                             ("critical", ("ai",))], kinds
        rewire = view.suggestions[0]
        assert rewire.saving_ms == pytest.approx(300, abs=5)
        await page.user.should_see("Run 'Search' alongside 'Category'")
        page.user.find(marker="apply-rewire").click()
        await page.until(lambda: PAGES["crafted"].get("applied") == 1, what="the edit to reach the editor")
        document = PAGES["crafted"]["document"]
        edges = {(e.source, e.target) for e in document.edges}
        assert ("cat", "search") not in edges and {("in", "search"), ("cat", "ctx")} <= edges
        assert [sorted(g.nodes) for g in document.parallel_groups] == [["cat", "search"]]
        assert {e["id"] for e in page.pane.canvas.edges} >= {"in->search", "cat->ctx"}, "the canvas shows the edit"
        await page.until(lambda: all(s.kind != "rewire" for s in view.suggestions), what="suggestions to refresh")
        assert not page.has("apply-critical"), "a critical-path note has nothing to apply"
        assert [(s.kind, s.node_ids) for s in view.suggestions if s.kind == "add_cache"] == [
            ("add_cache", ("search",))], "with both lookups in parallel only the slower one is worth a cache"
        page.user.find(marker="apply-add_cache").click()
        await page.until(lambda: PAGES["crafted"].get("applied") == 2, what="the cache to be added")
        strategies = PAGES["crafted"]["document"].cache_strategy
        assert strategies["product_search"].key_fields == ["query"] and strategies["product_search"].ttl == 300
        assert "cache_strategy" in PAGES["crafted"]["document"].dump(), "the edit is part of the exported flow"


async def test_no_metrics_means_no_suggestions_but_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "crafted") as page:
        await page.pane.suggestions.refresh()
        await page.user.should_see("No measured runs yet: run the flow a few times, then refresh.")
        assert page.pane.suggestions.suggestions == []
