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
    errors = [line for line in app.log_text().splitlines() if "Traceback" in line or " ERROR " in f" {line} "]
    assert not errors, f"the app logged errors:\n{app.log_text()[-4000:]}"


@pytest.fixture
def editor_page(chromium_path: str, _browser_holder: Any, request: pytest.FixtureRequest) -> Any:
    """A fresh browser context (own cookies, so own drafts); a screenshot is saved after the test."""
    yield from recorded_page(_browser_holder.get(chromium_path), request, ARTIFACTS, accept_downloads=True)
