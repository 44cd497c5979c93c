"""Feedback from the run pane's chat mode (issue 17): thumbs under an answer land on its run."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from storage.repos import messages
from storage.repos.experiments import get_feedback
from tests.browser.run_pane_user import pane_page


async def test_thumbs_under_a_chat_answer_land_on_its_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        page.user.find(marker="chat-switch").click()
        page.pane.message.set_value("I need a pallet jack")
        await page.run_to_end()
        await page.until(lambda: page.pane.chat.count == 2, what="the turn to be saved and shown")
        stored = page.context.database.call(messages.history, "1", page.pane.session())
        (run_id,) = {m.run_id for m in stored if m.role == "assistant"}
        assert run_id
        page.user.find(marker=f"chat-feedback-down-{run_id}").click()
        await page.user.should_see("Thanks: feedback saved on this run")
        given = await page.context.experiments.get_feedback("1", run_id)
        assert given.rating == -1 and given.run_id == run_id
        page.user.find(marker=f"chat-feedback-up-{run_id}").click()
        await page.until(lambda: page.context.database.call(_rating, run_id) == 1, what="the changed rating")


def _rating(session: Session, run_id: str) -> int | None:
    row = get_feedback(session, "1", run_id)
    return row.rating if row else None
