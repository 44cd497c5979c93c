"""Provider credentials in Settings (issue 18, item 7): per tenant, write-only, encrypted, read by
the resolver before the environment; Test connection sends one request through it."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from runtime.providers.openai_provider import OpenAIProvider
from runtime.providers.resolver import FallbackMock
from storage.models import Credential
from tests.fakes.llm_server import FakeLLMServer

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI

KEY = "sk-test-canary-7d1e"


def page_text(ui_: EditorUI) -> str:
    """Every text and value the page holds (what a person or the browser could read)."""
    assert ui_.user.client is not None
    parts = []
    for element in ui_.user.client.elements.values():
        parts += [str(getattr(element, "text", "")), str(getattr(element, "value", "")), str(element.props)]
    return " ".join(parts)


async def test_a_stored_key_is_used_before_the_environment_and_never_shown(
        editor_user: EditorUI, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeLLMServer() as server:
        await editor_user.open("/settings")
        assert editor_user.one("credential-state-openai").text == "nothing stored: the environment is used"
        editor_user.one("credential-key-openai").set_value(KEY)
        editor_user.one("credential-url-openai").set_value(server.openai_url)
        editor_user.by("credential-save-openai").click()  # a loopback server: refused like http_request's
        await editor_user.user.should_see("base URL: 127.0.0.1 is")
        assert editor_user.one("credential-state-openai").text == "nothing stored: the environment is used"
        editor_user.context.credentials.allowed_hosts = ("127.0.0.1",)  # AKIS_HTTP_ALLOW_HOSTS=127.0.0.1
        editor_user.by("credential-save-openai").click()
        await editor_user.user.should_see("Saved")
        assert editor_user.one("credential-state-openai").text == "key stored"
        assert editor_user.one("credential-key-openai").value == ""  # write-only: gone from the page
        assert KEY not in page_text(editor_user)
        # encrypted at rest
        row = editor_user.context.database.call(lambda s: s.get(Credential, ("1", "openai")))
        assert row is not None and KEY not in row.secret_encrypted
        # the resolver reads it (tenant 1 only) before the environment
        resolver = editor_user.context.services.providers
        assert isinstance(resolver.resolve("openai", None, "1"), OpenAIProvider)
        assert resolver.credentials.get("openai", "1").source == "stored"
        other = resolver.credentials.get("openai", "2")
        assert other is None or other.source == "environment"
        # test connection: one request with the stored key, to the stored base URL
        editor_user.by("credential-test-openai").click()
        await editor_user.until(lambda: editor_user.one("credential-result-openai").text.startswith("Connected"),
                                "the test to answer")
        assert editor_user.one("credential-result-openai").text.startswith("Connected: openai answered in ")
        assert server.requests and server.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
        # saving again with the key field empty keeps the key
        editor_user.by("credential-save-openai").click()
        assert editor_user.one("credential-state-openai").text == "key stored"
        # removed: the environment again (here: none, so the offline mock, and the test says so)
        for name in ("OPENAI_API_KEY", "AKIS_OPENAI_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        editor_user.context.settings.openai_api_key = type(editor_user.context.settings.openai_api_key)("")
        editor_user.by("credential-remove-openai").click()
        await editor_user.user.should_see("Removed: runs use the environment")
        assert isinstance(resolver.resolve("openai", None, "1"), FallbackMock)
        editor_user.by("credential-test-openai").click()
        await editor_user.until(lambda: editor_user.one("credential-result-openai").text.startswith("Failed"),
                                "the test to answer")
        assert "no OPENAI_API_KEY" in editor_user.one("credential-result-openai").text


async def test_bad_input_is_named(editor_user: EditorUI) -> None:
    await editor_user.open("/settings")
    editor_user.by("credential-save-anthropic").click()
    await editor_user.user.should_see("anthropic: enter an API key")
    editor_user.one("credential-key-anthropic").set_value(KEY)
    editor_user.one("credential-url-anthropic").set_value("ftp://example")
    editor_user.by("credential-save-anthropic").click()
    await editor_user.user.should_see("base URL 'ftp://example' is not an http(s) URL")
    assert editor_user.context.credentials.list("1")[0].key_stored is False
