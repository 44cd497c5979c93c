"""The flow editor's Publish dialog: a key for this flow with the sites it may run on, its
snippet shown once, the flow's keys listed, one revoked (the widget is then refused at once)."""
from __future__ import annotations

import pytest

from editor.services.publishing import Refused
from tests.ui.conftest import EditorUI

SITE = "https://shop.example"


async def test_publish_makes_a_key_and_snippet_lists_and_revokes_it(editor_user: EditorUI) -> None:
    editor = editor_user
    await editor.open("/flows/pallet-assistant")
    editor.by("publish").click()
    await editor.find("publish-create")
    assert editor.one("publish-keys") is not None
    await editor.user.should_see("No key yet: this flow is not on any site.")

    editor.by("publish-origins").type("shop.example/page")  # not an origin: named, nothing made
    editor.by("publish-create").click()
    await editor.user.should_see("allowed origin 'shop.example/page' is not an origin")
    assert await editor.context.publishing.list("1", "pallet-assistant") == []

    editor.one("publish-origins").set_value(f"{SITE}\n{SITE}/")
    editor.by("publish-name").type("Ask the shop")
    editor.by("publish-create").click()
    await editor.find("publish-snippet")
    snippet = editor.one("publish-snippet").content
    (info,) = await editor.context.publishing.list("1", "pallet-assistant")
    assert info.allowed_origins == (SITE,) and info.name == "Ask the shop" and info.rate_per_minute == 20
    assert 'data-akis-flow="pallet-assistant"' in snippet and 'data-akis-title="Ask the shop"' in snippet
    key = snippet.split('data-akis-key="')[1].split('"')[0]
    assert key.startswith("akispub_") and key.split("_")[1] == info.id
    assert editor.one("publish-try").props["href"].endswith(f"#key={key}")
    allowed = await editor.context.publishing.authorize(key, "pallet-assistant", {"origin": SITE}, "10.0.0.1")
    assert allowed.tenant_id == "1"

    editor.by(f"publish-revoke-{info.id}").click()
    (await editor.find("publish-revoke-confirm")).click()
    await editor.user.should_see("revoked just now")
    with pytest.raises(Refused) as refused:
        await editor.context.publishing.authorize(key, "pallet-assistant", {"origin": SITE}, "10.0.0.1")
    assert refused.value.code == "key_revoked"
