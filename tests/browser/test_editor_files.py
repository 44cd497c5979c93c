"""Export and import in headless Chromium: the downloaded file is the saved flow, importing it
gives back the same flow with the same layout, and a file with mistakes is refused with each
mistake named by node and field (nothing saved). Screenshots go to artifacts/editor/.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime import load_flow, validate_flow

from .editor_app import EXAMPLE, EditorApp
from .test_editor_browser import NODE, center, drag, open_flow, save, shot

pytestmark = pytest.mark.browser


def upload(page: Any, path: Path) -> None:
    page.get_by_test_id("import").click()
    page.locator('[data-testid="import-upload"] input[type=file]').set_input_files(str(path))


def test_export_is_the_saved_flow_and_imports_back_identically(editor_page: Any, editor_app: EditorApp,
                                                                tmp_path: Path) -> None:
    editor_app.put_flow("export-test")
    page = editor_page
    open_flow(page, editor_app, "export-test")
    drag(page, center(page, NODE.format("node_8")), (center(page, NODE.format("node_8"))[0] + 40,
                                                     center(page, NODE.format("node_8"))[1] - 60))
    page.get_by_test_id("unsaved").wait_for()
    save(page)
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    exported_path = tmp_path / "exported.json"
    download.value.save_as(exported_path)
    assert download.value.suggested_filename == "export-test.json"
    exported = json.loads(exported_path.read_text(encoding="utf-8"))
    assert exported == editor_app.stored("export-test")
    assert exported["nodes"][7]["ui"] != json.loads(EXAMPLE.read_text())["nodes"][7]["ui"]  # the move is in it
    assert validate_flow(load_flow(exported_path)) == []

    page.goto(editor_app.url + "/")
    upload(page, exported_path)
    page.get_by_test_id("import-as-copy").click()
    page.wait_for_url("**/flows/export-test-2")
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    copy = editor_app.stored("export-test-2")
    assert copy["name"] == f"{exported['name']} (copy)"  # told apart from the original in the flows list
    assert {**copy, "flow_id": "export-test", "name": exported["name"]} == exported  # same nodes, edges, groups
    page.goto(editor_app.url + "/")
    upload(page, exported_path)
    page.get_by_test_id("import-as-version").click()
    page.wait_for_url("**/flows/export-test")
    assert editor_app.version("export-test") == 3


def test_import_a_file_with_mistakes_names_each_one(editor_page: Any, editor_app: EditorApp, tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["flow_id"] = "broken-import"
    data["nodes"][2]["config"]["limit"] = 500
    data["nodes"].append({"id": "node_9", "type": "teleport", "label": "Nope"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    page = editor_page
    page.goto(editor_app.url + "/")
    upload(page, path)
    table = page.get_by_test_id("import-problems")
    table.wait_for()
    text = table.inner_text()
    assert "node_3" in text and "config.limit" in text and "less than or equal to 100" in text
    assert "node_9" in text and "unknown node type 'teleport'" in text
    assert "Nothing was saved" in page.get_by_test_id("import-refused").inner_text()
    shot(page, "import_refused")
    assert editor_app.stored("broken-import") is None
    not_json = tmp_path / "notes.json"
    not_json.write_text("these are not flows", encoding="utf-8")
    page.keyboard.press("Escape")
    upload(page, not_json)
    page.get_by_text("not a flow file", exact=False).wait_for()
