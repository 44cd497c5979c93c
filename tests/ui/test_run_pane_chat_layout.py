"""Chat mode laid out like a chat (issue 18, item 15): the message box under the transcript, and
the answer shown once (in the transcript, not again as a reply card or the Output JSON)."""
from __future__ import annotations

from pathlib import Path

import pytest

from editor.run_pane.chat import ChatLayout
from tests.browser.run_pane_user import pane_page


def place(element: object) -> int:
    slot = element.parent_slot  # type: ignore[attr-defined]
    return slot.children.index(element)


async def test_chat_mode_puts_the_box_under_the_transcript_and_shows_the_answer_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with pane_page(tmp_path, caplog, "chat") as page:
        pane = page.pane
        ChatLayout(pane.chat, pane.message, pane.answers, pane.result_box).follow(pane.chat_switch)  # as the editor
        top = place(pane.message)
        page.user.find(marker="chat-switch").click()
        await page.user.should_see("No messages in session")
        assert place(pane.chat) < place(pane.answers) < place(pane.message), "transcript, reply, then the box"
        pane.message.set_value("I need a pallet jack")
        await page.run_to_end()
        await page.until(lambda: pane.chat.count == 2, what="the turn to be saved and shown")
        assert not pane.answers.visible, "the reply is in the transcript: its card goes"
        assert "akis-chat-result" in pane.result_box.classes  # the Output JSON (the answer again) is hidden
        pane.message.set_value("For 2 tonnes")
        await page.run_to_end()
        assert pane.answers.visible or pane.chat.count == 4, "a new reply shows while it is written"
        page.user.find(marker="chat-switch").click()
        assert place(pane.message) == top and "akis-chat-result" not in pane.result_box.classes
