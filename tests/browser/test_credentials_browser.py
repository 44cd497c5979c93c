"""Settings' provider credentials card in Chromium (issue 18, item 7): save a key, see it stored
but not shown; a base URL on the server's network is refused. Screenshot in
artifacts/editor/settings_credentials.png."""
from __future__ import annotations

from typing import Any

import pytest

from .editor_app import ARTIFACTS, EditorApp

pytestmark = pytest.mark.browser

KEY = "sk-browser-canary-51c2"


def test_a_key_is_saved_write_only_and_tested(editor_page: Any, editor_app: EditorApp) -> None:
    page = editor_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{editor_app.url}/settings")
    card = page.get_by_test_id("credentials-card")
    card.wait_for()
    page.get_by_test_id("credential-key-openai").fill(KEY)
    page.get_by_test_id("credential-save-openai").click()
    state = page.get_by_test_id("credential-state-openai")
    page.wait_for_function("document.querySelector('[data-testid=credential-state-openai]').innerText === 'key stored'")
    assert state.inner_text() == "key stored"
    assert page.get_by_test_id("credential-key-openai").input_value() == ""
    assert KEY not in page.content()
    # a base URL on the server's own network is refused, as http_request refuses it; the key stays
    page.get_by_test_id("credential-url-openai").fill("http://10.0.0.5/v1")
    page.get_by_test_id("credential-save-openai").click()
    result = page.get_by_test_id("credential-result-openai")
    page.wait_for_function(
        "document.querySelector('[data-testid=credential-result-openai]').innerText.startsWith('base URL')")
    assert "10.0.0.5 is" in result.inner_text() and "AKIS_HTTP_ALLOW_HOSTS" in result.inner_text()
    assert state.inner_text() == "key stored"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / "settings_credentials.png"))
    page.reload()
    page.get_by_test_id("credentials-card").wait_for()
    assert page.get_by_test_id("credential-state-openai").inner_text() == "key stored"
    assert KEY not in page.content()
