"""Fixtures for the editor's browser tests (imported by the test_editor_* modules): the app as a
subprocess per module, and a fresh browser context per test that leaves a screenshot."""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import recorded_page
from .editor_app import ARTIFACTS, EditorApp


@pytest.fixture(scope="module")
def editor_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = EditorApp(tmp_path_factory.mktemp("akis-editor"))
    try:
        app.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield app
    app.stop()
    errors = [line for line in app.log_text().splitlines()
              if ("Traceback" in line or " ERROR " in f" {line} ") and not _slow_but_finished(line)]
    assert not errors, f"the app logged errors:\n{app.log_text()[-4000:]}"


def _slow_but_finished(line: str) -> bool:
    """NiceGUI's shutdown waits 2 s for cancelled tasks, then names those still running. With no
    name listed, every task did finish, just late (a loaded machine): not an app error. A task
    that really hangs is named, and fails the test."""
    head, _, names = line.partition("Could not cancel ")
    return bool(_) and "tasks within timeout:" in names and not names.split("tasks within timeout:", 1)[1].strip()


@pytest.fixture
def editor_page(chromium_path: str, _browser_holder: Any, request: pytest.FixtureRequest) -> Any:
    """A fresh browser context (own cookies, so own drafts); a screenshot is saved after the test."""
    yield from recorded_page(_browser_holder.get(chromium_path), request, ARTIFACTS, accept_downloads=True)
