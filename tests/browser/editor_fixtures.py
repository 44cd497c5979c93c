"""Fixtures for the editor's browser tests (imported by the test_editor_* modules): the app as a
subprocess per module, and a fresh browser context per test that leaves a screenshot."""
from __future__ import annotations

from typing import Any

import pytest

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
    context = _browser_holder.get(chromium_path).new_context(viewport={"width": 1440, "height": 860},
                                                             accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
