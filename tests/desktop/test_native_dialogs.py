"""Import and export in the desktop window go through the operating system's Open and Save
dialogs: the pages' real code, with the dialog answered the way a person answers it (the path
they pick, or cancel). A dataset's export and an evaluation's report go the same way (a download
does nothing in the window). In web mode the same buttons keep the browser's download and upload."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nicegui import app, ui
from nicegui.testing.user_interaction import UserInteraction

from editor.auth import local
from editor.desktop.files import OPEN_DIALOG, SAVE_DIALOG
from tests.ui.conftest import EditorUI

DEMO = "pallet-assistant"


class SystemDialog:
    """What ``app.native.main_window.create_file_dialog`` reaches in the window: the person picks
    ``answer`` (None: they cancel). Every question asked is kept."""

    def __init__(self) -> None:
        self.answer: Path | None = None
        self.asked: list[dict[str, Any]] = []
        self.titles: list[str] = []

    def set_title(self, title: str) -> None:
        """NiceGUI names the window after the page shown."""
        self.titles.append(title)

    async def create_file_dialog(self, dialog_type: int, directory: str = "", allow_multiple: bool = False,
                                 save_filename: str = "", file_types: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        self.asked.append({"type": dialog_type, "directory": directory, "save_filename": save_filename,
                           "file_types": file_types})
        return (str(self.answer),) if self.answer is not None else None


@pytest.fixture
def window() -> Iterator[SystemDialog]:
    """Desktop mode for the test: the local user and the window's dialogs."""
    dialog = SystemDialog()
    local.enable("1")
    previous = app.native.main_window
    app.native.main_window = dialog  # type: ignore[assignment]  # the window's dialog, answered by the test
    try:
        yield dialog
    finally:
        app.native.main_window = previous
        local.disable()


async def test_export_in_the_editor_asks_where_and_writes_the_file(editor_user: EditorUI, window: SystemDialog,
                                                                   tmp_path: Path):
    await editor_user.open(f"/flows/{DEMO}")
    window.answer = tmp_path / "chosen name.json"
    editor_user.by("export").click()
    await editor_user.until(lambda: window.answer is not None and window.answer.exists(), "the exported file")
    assert json.loads(window.answer.read_text(encoding="utf-8")) == editor_user.stored(DEMO)
    (question,) = window.asked
    assert question["type"] == SAVE_DIALOG and question["save_filename"] == f"{DEMO}.json"
    assert any("*.json" in kind for kind in question["file_types"])
    await editor_user.user.should_see(f"Saved {window.answer}")
    assert window.titles[-1].endswith("Akis")  # the window is named after the flow's page


async def test_a_cancelled_save_writes_nothing(editor_user: EditorUI, window: SystemDialog, tmp_path: Path):
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("export").click()
    await editor_user.until(lambda: len(window.asked) == 1, "the Save dialog")
    assert await asyncio.to_thread(lambda: list(tmp_path.glob("*.json"))) == []
    await editor_user.user.should_not_see("Saved")


async def test_a_folder_that_cannot_be_written_is_named(editor_user: EditorUI, window: SystemDialog,
                                                        tmp_path: Path):
    await editor_user.open("/")
    window.answer = tmp_path / "missing folder" / f"{DEMO}.json"
    editor_user.by(f"menu-{DEMO}").click()
    items = [e for e in editor_user.one(f"menu-{DEMO}").descendants()
             if isinstance(e, ui.menu_item) and any(getattr(c, "text", "") == "Export JSON" for c in e.descendants())]
    assert len(items) == 1
    UserInteraction(editor_user.user, set(items), None).click()
    await editor_user.user.should_see(f"Not saved to {window.answer}")
    assert not window.answer.parent.exists()


async def test_import_in_the_window_opens_the_system_dialog(editor_user: EditorUI, window: SystemDialog,
                                                            tmp_path: Path):
    flow = dict(editor_user.stored(DEMO) or {})
    flow.update(flow_id="from-disk", name="From the disk")
    window.answer = tmp_path / "from-disk.json"
    window.answer.write_text(json.dumps(flow), encoding="utf-8")
    await editor_user.open("/")
    editor_user.by("import").click()
    assert not editor_user.has("import-upload")  # no browser upload field in the window
    (await editor_user.find("import-open")).click()
    await editor_user.until(lambda: editor_user.stored("from-disk") is not None, "the imported flow")
    assert editor_user.stored("from-disk")["name"] == "From the disk"
    assert window.asked[0]["type"] == OPEN_DIALOG


async def test_a_broken_file_opened_in_the_window_is_refused_by_node_and_field(
        editor_user: EditorUI, window: SystemDialog, tmp_path: Path):
    flow = dict(editor_user.stored(DEMO) or {})
    flow["flow_id"] = "broken"
    flow["edges"] = [*flow["edges"], {"source": "node_1", "target": "nowhere"}]
    window.answer = tmp_path / "broken.json"
    window.answer.write_text(json.dumps(flow), encoding="utf-8")
    await editor_user.open("/")
    editor_user.by("import").click()
    (await editor_user.find("import-open")).click()
    await editor_user.find("import-refused")
    await editor_user.user.should_see("broken.json was not imported")
    assert editor_user.stored("broken") is None


async def test_web_mode_keeps_the_download_and_the_upload(editor_user: EditorUI):
    assert local.current() is None
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("export").click()
    response = await editor_user.user.download.next()
    assert json.loads(response.content) == editor_user.stored(DEMO)
    await editor_user.open("/")
    editor_user.by("import").click()
    await editor_user.find("import-upload")
    assert not editor_user.has("import-open")


async def test_a_dataset_and_an_evaluation_report_are_saved_through_the_dialog(
        editor_user: EditorUI, window: SystemDialog, tmp_path: Path):
    from tests.integration.evals.flows import echo_flow, fifty_cases, jsonl

    context = editor_user.context
    await context.flows.create("1", json.dumps(echo_flow("echo")))
    dataset, _ = await context.datasets.import_text("1", jsonl("smoke", fifty_cases()[:3], [{"kind": "exact"}]),
                                                    "jsonl")
    await editor_user.open(f"/datasets/{dataset.id}")
    saved = {"export-csv": ("smoke.csv", "CSV files (*.csv)"), "export-jsonl": ("smoke.jsonl",
                                                                               "JSON Lines files (*.jsonl)")}
    for button, (name, kind) in saved.items():
        window.answer = tmp_path / f"chosen {name}"
        (await editor_user.find(button)).click()
        await editor_user.until(lambda: window.answer is not None and window.answer.exists(), f"the saved {name}")
        assert window.asked[-1]["type"] == SAVE_DIALOG and window.asked[-1]["save_filename"] == name
        assert window.asked[-1]["file_types"][0] == kind
        assert "message 2" in window.answer.read_text(encoding="utf-8")
    started = await context.evaluations.start("1", dataset.id, "echo", [1])
    await context.evaluations.wait("1", started.id)
    await editor_user.open(f"/evaluations/{started.id}")
    window.answer = tmp_path / "report.json"
    (await editor_user.find("report-download")).click()
    await editor_user.until(lambda: window.answer is not None and window.answer.exists(), "the saved report")
    report = json.loads(window.answer.read_text(encoding="utf-8"))
    assert report["evaluation"]["id"] == started.id and len(report["cases"]) == 3
    assert window.asked[-1]["save_filename"] == f"evaluation-{started.id}.json"
    window.answer = tmp_path / "results.csv"
    editor_user.by("results-csv").click()
    await editor_user.until(lambda: window.answer is not None and window.answer.exists(), "the saved results")
    assert window.answer.read_text(encoding="utf-8").startswith("case_id,message,expected,version")
    await editor_user.user.should_see(f"Saved {window.answer}")
    links = [e for e in editor_user.user.client.elements.values()  # the window keeps one page: no new tab
             if str(e.props.get("data-testid", "")).startswith("run-link-")]
    assert len(links) == 3 and all(e.props["target"] == "_self" for e in links)
