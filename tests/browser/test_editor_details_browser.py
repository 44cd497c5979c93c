"""Details of the editor a person sees, in headless Chromium against the real app (issue 18): palette
search words, undo after keeping a restored draft, import as a copy, provider notices only for the
providers a flow uses, and a Compare summary that is not clipped. Screenshots go to artifacts/editor/.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .editor_app import EXAMPLE, ROOT, EditorApp
from .test_editor_browser import NODE, open_flow, save, shot

pytestmark = pytest.mark.browser

KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(scope="module", autouse=True)
def _no_provider_keys() -> Iterator[None]:
    """The app starts without provider keys, so every AI node falls back to the offline mock
    (autouse: it runs before the module's ``editor_app`` starts the app)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in KEYS:
            patch.delenv(name, raising=False)
        yield


def demo(provider: str) -> dict[str, Any]:
    """The demo flow with its answer from ``provider`` (fast, so a run takes about a second)."""
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for node in data["nodes"]:
        if node["type"] == "ai_response":
            node["config"]["provider"] = provider
            node["config"]["provider_options"] = {"delay_ms": 0, "tokens_per_second": 0}
    return data


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def settled(page: Any) -> None:
    """No Quasar transition running (a dialog fading in, a tooltip fading out)."""
    page.wait_for_function("!document.querySelector('[class*=\"-enter-active\"], [class*=\"-leave-active\"]')")


def box_of(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not visible"
    return found


def test_palette_words_and_undo_after_keeping_a_restored_draft(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("details-draft")
    page = editor_page
    open_flow(page, editor_app, "details-draft")
    search = page.get_by_test_id("palette-search")
    ai = page.get_by_test_id("palette-ai_response")
    for word in ("llm", "gpt", "claude"):  # words people search with that the title does not hold
        search.fill(word)
        ai.wait_for()
        assert not page.get_by_test_id("palette-delay").is_visible(), f"{word!r} does not filter the list"
        assert "AI response" in ai.inner_text()
        shot(page, f"details_palette_{word}")
    search.fill("")
    page.get_by_test_id("palette-delay").wait_for()

    page.get_by_test_id("palette-delay").click()  # an unsaved change, kept as a draft
    page.locator(NODE.format("node_9")).wait_for()
    page.get_by_test_id("unsaved").wait_for()
    page.wait_for_timeout(1000)  # the draft is written by a half-second timer
    page.reload()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    page.get_by_test_id("restored-banner").wait_for()
    page.locator(NODE.format("node_9")).wait_for()
    shot(page, "details_restored_banner")
    page.get_by_test_id("keep-draft").click()
    page.get_by_test_id("restored-banner").wait_for(state="detached")
    page.get_by_test_id("unsaved").wait_for()
    undo = page.get_by_test_id("undo")
    assert undo.is_enabled(), "Undo is off after Keep"
    undo.click()  # back to the saved version
    page.locator(NODE.format("node_9")).wait_for(state="detached")
    page.get_by_test_id("unsaved").wait_for(state="hidden")
    assert page.locator(".vue-flow__node-akis").count() == 8
    shot(page, "details_undo_after_keep")
    page.get_by_test_id("redo").click()  # and the kept change comes back
    page.locator(NODE.format("node_9")).wait_for()
    page.get_by_test_id("unsaved").wait_for()
    save(page)
    assert any(n["id"] == "node_9" for n in editor_app.stored("details-draft")["nodes"])


def test_import_as_a_copy_gets_a_distinct_name(editor_page: Any, editor_app: EditorApp, tmp_path: Path) -> None:
    original = editor_app.put_flow("details-import")
    exported = tmp_path / "details-import.json"
    exported.write_text(json.dumps(original), encoding="utf-8")
    page = editor_page
    page.goto(editor_app.url + "/")
    page.get_by_test_id("flow-details-import").wait_for()
    page.get_by_test_id("import").click()
    page.locator('[data-testid="import-upload"] input[type=file]').set_input_files(str(exported))
    page.get_by_test_id("import-as-copy").wait_for()  # the flow exists: a version of it, or a copy
    assert "already exists" in page.get_by_test_id("import-result").inner_text()
    settled(page)
    shot(page, "details_import_exists")
    page.get_by_test_id("import-as-copy").click()
    page.wait_for_url(lambda url: "/flows/" in url and not url.endswith("/flows/details-import"), timeout=20000)
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    copy_id = page.url.rsplit("/flows/", 1)[1]
    name = original["name"]
    assert page.get_by_test_id("flow-title").inner_text() == f"{name} (copy)"
    assert editor_app.stored(copy_id)["name"] == f"{name} (copy)"
    assert editor_app.stored("details-import")["name"] == name  # the original is untouched

    page.goto(editor_app.url + "/")  # the list tells the two apart at a glance
    copy_card = page.get_by_test_id(f"flow-{copy_id}")
    copy_card.wait_for()
    assert f"{name} (copy)" in copy_card.inner_text()
    assert "(copy)" not in page.get_by_test_id("flow-details-import").inner_text()
    copy_card.scroll_into_view_if_needed()
    shot(page, "details_import_copy_in_list")


def test_run_pane_notices_and_an_unclipped_compare_summary(editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow("details-anthropic", demo("anthropic"))
    editor_app.put_flow("details-openai", demo("openai"))
    page = editor_page
    notices = page.get_by_test_id("run-notice")

    # the app's list of notices holds anthropic's after this run...
    open_flow(page, editor_app, "details-anthropic")
    page.get_by_test_id("tab-run").click()
    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-output").wait_for(timeout=30000)
    assert notices.all_inner_texts() == [
        "Note: no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic"]

    # ...and a flow whose one AI node uses openai shows only the openai notice
    open_flow(page, editor_app, "details-openai")
    page.get_by_test_id("tab-run").click()
    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-output").wait_for(timeout=30000)
    notices.first.wait_for()
    assert notices.all_inner_texts() == [
        "Note: no OPENAI_API_KEY: using the offline mock provider instead of openai"]
    notices.first.scroll_into_view_if_needed()
    shot(page, "details_openai_notice_only")

    # Compare, sequential against parallel, in the side panel: the summary and chart titles whole
    seed = json.loads((ROOT / "examples" / "seed_scenario.json").read_text(encoding="utf-8"))
    for node in seed["nodes"]:
        if node["type"] == "delay":
            node["config"]["ms"] = node["config"]["ms"] // 2
    editor_app.put_flow("details-compare", seed)
    open_flow(page, editor_app, "details-compare")
    page.get_by_test_id("tab-run").click()
    page.get_by_test_id("compare-button").click()
    chart = page.locator("[data-testid=compare-timeline]")
    page.wait_for_selector("[data-testid=compare-timeline] .main-svg", timeout=30000)
    status = page.get_by_test_id("run-status")
    assert status.inner_text().startswith("Sequential") and "saved" in status.inner_text()
    page.mouse.move(600, 300)  # off the Compare button and the chart: no tooltip, no plotly mode bar
    page.locator(".q-tooltip").wait_for(state="detached")
    settled(page)
    status.scroll_into_view_if_needed()
    shot(page, "details_compare_summary")
    chart.scroll_into_view_if_needed()
    pane = box_of(page.get_by_test_id("run-pane"))
    svg = box_of(chart.locator(".main-svg").first)
    assert svg["x"] >= pane["x"] - 1 and svg["x"] + svg["width"] <= pane["x"] + pane["width"] + 1, \
        f"the chart ({svg}) is wider than the run pane ({pane})"
    assert status.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the summary line is cut off"
    summary = box_of(status)
    assert summary["x"] >= pane["x"] - 1 and summary["x"] + summary["width"] <= pane["x"] + pane["width"] + 1
    title = chart.locator(".gtitle")
    assert "→ parallel" in title.text_content() and "saved" in title.text_content()
    assert inside(box_of(title), svg), f"the chart title {box_of(title)} runs out of the chart {svg}"
    rows = chart.locator(".annotation-text")
    assert rows.count() == 2
    for i in range(rows.count()):  # "Sequential · result …" and "Parallel · result …" above the rows
        assert inside(box_of(rows.nth(i)), svg), f"{rows.nth(i).text_content()!r} runs out of the chart"
    for legend in chart.locator(".legend").all():
        assert inside(box_of(legend), svg), "the legend runs out of the chart"
    shot(page, "details_compare")
    chart.screenshot(path=str(ROOT / "artifacts" / "editor" / "details_compare_chart.png"))
