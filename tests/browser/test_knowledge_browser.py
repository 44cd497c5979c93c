"""Knowledge bases in headless Chromium: the /knowledge pages (upload a real file through the
uploader, try a search) and the run pane's numbered sources. Screenshots go to artifacts/knowledge/."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.knowledge.pdfs import make_pdf

from .editor_app import ROOT, EditorApp
from .run_pane_server import RunPaneServer

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "knowledge"


def capture(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_upload_and_search_in_the_browser(editor_page: Any, editor_app: EditorApp, tmp_path: Path) -> None:
    page = editor_page
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(editor_app.url + "/knowledge")
    page.get_by_test_id("kb-support-docs").wait_for()
    capture(page, "knowledge_list")
    page.get_by_test_id("kb-support-docs").click()
    page.get_by_test_id("kb-documents").wait_for()
    manual = tmp_path / "forklift_manual.pdf"
    manual.write_bytes(make_pdf([["Forklift manual", "Check the tyre pressure every week: 8 bar front, 7 bar rear."]]))
    page.locator("[data-testid=kb-upload] input[type=file]").set_input_files(str(manual))
    page.get_by_text("Added forklift_manual.pdf").wait_for()
    page.get_by_test_id("kb-stats").filter(has_text="6 document(s)").wait_for()
    page.get_by_test_id("kb-query").fill("what tyre pressure")
    page.get_by_test_id("kb-search").click()
    first = page.get_by_test_id("kb-result-1")
    first.wait_for()
    assert first.inner_text().startswith("[1] forklift_manual.pdf · part 1")
    assert "8 bar front" in first.inner_text()
    capture(page, "knowledge_base")


def test_the_run_pane_lists_an_answers_sources(page: Any, server: RunPaneServer) -> None:
    page.set_viewport_size({"width": 1440, "height": 1400})
    page.goto(f"{server.url}/test/run/support")
    page.wait_for_function("document.querySelectorAll('[data-node-id]').length === 6", timeout=15000)
    page.get_by_test_id("run-message").fill("How long is the warranty on batteries?")
    page.click("[data-testid=run-button]")
    page.get_by_test_id("run-citations").wait_for(timeout=20000)
    answer = page.get_by_test_id("answer-node_4").inner_text()
    assert "[1]" in answer
    page.get_by_test_id("citation-1").click()
    page.get_by_test_id("citation-1").get_by_text("24-month warranty", exact=False).first.wait_for()
    capture(page, "run_pane_sources")


def test_the_inspector_picks_knowledge_bases_by_name(editor_page: Any, editor_app: EditorApp) -> None:
    """The retrieval node's bases: the tenant's bases listed by name in the inspector, one more
    picked from the list and saved as its id."""
    from .test_editor_browser import NODE, open_flow, save

    document = json.loads((ROOT / "examples" / "support_assistant.json").read_text(encoding="utf-8"))
    editor_app.put_flow("kb-picker-test", document)
    page = editor_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(editor_app.url + "/knowledge")
    page.get_by_test_id("kb-id").wait_for()
    page.get_by_test_id("kb-id").fill("faq")
    page.get_by_test_id("kb-name").fill("Frequently asked")
    page.get_by_test_id("kb-create").click()
    page.get_by_test_id("kb-view").wait_for()  # the new base's page
    open_flow(page, editor_app, "kb-picker-test")
    page.locator(NODE.format("node_2")).click()
    field = page.get_by_test_id("field-knowledge_bases")
    field.wait_for()
    page.get_by_test_id("inspector").get_by_text("Support documents (example) (support-docs)").wait_for()
    right = page.get_by_test_id("inspector").evaluate("e => e.getBoundingClientRect().right")
    assert right <= 1440, f"the inspector runs {right - 1440:.0f} px past the window (long base names)"
    field.click()
    page.get_by_role("option", name="Frequently asked (faq)").click()
    page.keyboard.press("Escape")
    page.get_by_test_id("unsaved").wait_for()
    capture(page, "inspector_knowledge_picker")
    save(page)
    stored = editor_app.stored("kb-picker-test")
    assert stored is not None
    node = next(n for n in stored["nodes"] if n["id"] == "node_2")
    assert node["config"]["knowledge_bases"] == ["support-docs", "faq"]
