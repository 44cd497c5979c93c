"""The run pane shows an answer's numbered sources, each opening to its passage (issue 19)."""
from __future__ import annotations

from pathlib import Path

import pytest
from nicegui import ui

from tests.browser.run_pane_user import pane_page


async def test_a_citing_answer_lists_its_numbered_sources(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "support") as page:
        page.pane.message.set_value("Is there a restocking fee on returns?")
        await page.run_to_end()
        live = page.pane.live
        assert live.status == "succeeded", live.error
        answer = page.pane.answers.text_of("node_4")
        assert "[1]" in answer and "restocking fee of 10%" in answer
        await page.until(lambda: page.has("run-citations"), what="the sources")
        first = page.user.find(marker="citation-1").elements.pop()
        assert isinstance(first, ui.expansion) and first.text == "[1] returns.html · part 1"
        passage = [c.text for c in first.default_slot.children]
        assert any("A restocking fee of 10% applies" in text for text in passage)
        numbers = [c["n"] for c in live.output["citations"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(page.has(f"citation-{n}") for n in numbers)
