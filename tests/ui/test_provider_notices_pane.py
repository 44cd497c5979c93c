"""The run pane shows provider notices only for the providers the flow uses (issue 18, item 6)."""
from __future__ import annotations

from pathlib import Path

import pytest

from runtime import load_flow
from tests.browser.run_pane_app import PAGES
from tests.browser.run_pane_user import pane_page


async def test_an_openai_flow_shows_no_anthropic_notice(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "AKIS_ANTHROPIC_API_KEY", "OPENAI_API_KEY", "AKIS_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    async with pane_page(tmp_path, caplog, "keyless") as page:
        await page.run_to_end()  # the keyless example uses anthropic: its notice is shown
        notices = [e.text for e in page.user.find(marker="run-notice").elements]
        assert notices == ["Note: no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic"]
        data = PAGES["keyless"]["document"].dump()
        for node in data["nodes"]:
            if node["type"] == "ai_response":
                node["config"]["provider"] = "openai"
        PAGES["keyless"]["document"] = load_flow(data)  # the canvas now shows an openai flow
        await page.run_to_end()
        await page.until(lambda: page.has("run-notice"), what="the notices of the second run")
        notices = [e.text for e in page.user.find(marker="run-notice").elements]
        assert notices == ["Note: no OPENAI_API_KEY: using the offline mock provider instead of openai"]
