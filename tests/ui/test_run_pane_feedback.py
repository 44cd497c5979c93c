"""Feedback from the run pane's chat mode (issue 17): thumbs under an answer land on its run,
then an optional comment (the API's limit), and a run rated elsewhere shows its rating."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from editor.services.experiments import MAX_COMMENT
from storage.repos import messages
from storage.repos.experiments import get_feedback
from tests.browser.run_pane_user import Page, pane_page


async def test_thumbs_under_a_chat_answer_land_on_its_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        run_id = await _answer(page)
        page.user.find(marker=f"chat-feedback-down-{run_id}").click()
        await page.user.should_see("Thanks: feedback saved on this run")
        given = await page.context.experiments.get_feedback("1", run_id)
        assert given.rating == -1 and given.run_id == run_id
        assert _chosen(page, run_id) == "down"
        page.user.find(marker=f"chat-feedback-up-{run_id}").click()
        await page.until(lambda: page.context.database.call(_stored, run_id) == (1, None), what="the changed rating")
        assert _chosen(page, run_id) == "up"


async def test_a_thumb_then_a_comment_land_on_the_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        run_id = await _answer(page)
        await page.user.should_not_see(marker=f"chat-feedback-note-{run_id}")  # no box before a thumb
        page.user.find(marker=f"chat-feedback-up-{run_id}").click()
        await page.user.should_see(marker=f"chat-feedback-note-{run_id}")
        page.user.find(marker=f"chat-feedback-note-{run_id}").type("  The jack it named is out of stock  ")
        page.user.find(marker=f"chat-feedback-send-{run_id}").click()
        await page.user.should_see("Thanks: comment saved on this run")
        given = await page.context.experiments.get_feedback("1", run_id)  # what GET /api/runs/{id}/feedback reads
        assert (given.rating, given.comment) == (1, "The jack it named is out of stock")
        await page.user.should_see("“The jack it named is out of stock”")
        # changing the thumb keeps the comment: one rating a run, the last given counts
        page.user.find(marker=f"chat-feedback-down-{run_id}").click()
        await page.until(lambda: page.context.database.call(_stored, run_id)
                         == (-1, "The jack it named is out of stock"), what="the changed thumb")
        assert _chosen(page, run_id) == "down"


async def test_a_too_long_comment_is_refused_with_a_message(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        run_id = await _answer(page)
        page.user.find(marker=f"chat-feedback-up-{run_id}").click()
        await page.user.should_see(marker=f"chat-feedback-note-{run_id}")
        await page.until(lambda: page.context.database.call(_stored, run_id) == (1, None), what="the thumb")
        note = page.user.find(marker=f"chat-feedback-note-{run_id}")
        note.type("x" * (MAX_COMMENT + 1))
        page.user.find(marker=f"chat-feedback-send-{run_id}").click()
        await page.user.should_see(f"comment is {MAX_COMMENT + 1} characters; at most {MAX_COMMENT}")
        assert page.context.database.call(_stored, run_id) == (1, None)  # nothing stored, the thumb kept
        note.clear().type("y" * MAX_COMMENT)  # at the limit it is taken, and the message goes
        page.user.find(marker=f"chat-feedback-send-{run_id}").click()
        await page.user.should_see("Thanks: comment saved on this run")
        assert page.context.database.call(_stored, run_id) == (1, "y" * MAX_COMMENT)
        await page.user.should_not_see(marker=f"chat-feedback-problem-{run_id}")


async def test_a_run_rated_elsewhere_shows_its_rating(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with pane_page(tmp_path, caplog, "chat") as page:
        run_id = await _answer(page)
        assert _chosen(page, run_id) is None
        # rated through the service the HTTP API and the widget use, then the pane is reopened
        await page.context.experiments.feedback("1", run_id, -1, "Answered a different question")
        page.user.find(marker="chat-switch").click()
        page.user.find(marker="chat-switch").click()
        await page.until(lambda: _chosen(page, run_id) == "down", what="the stored rating to be shown")
        await page.user.should_see("“Answered a different question”")
        page.user.find(marker=f"chat-feedback-up-{run_id}").click()  # a new thumb keeps the comment
        await page.until(lambda: page.context.database.call(_stored, run_id)
                         == (1, "Answered a different question"), what="the changed thumb")


async def _answer(page: Page) -> str:
    """One chat turn; the id of the run that answered it."""
    page.user.find(marker="chat-switch").click()
    page.pane.message.set_value("I need a pallet jack")
    await page.run_to_end()
    await page.until(lambda: page.pane.chat.count == 2, what="the turn to be saved and shown")
    stored = page.context.database.call(messages.history, "1", page.pane.session())
    (run_id,) = {m.run_id for m in stored if m.role == "assistant"}
    assert run_id
    await page.user.should_see(marker=f"chat-feedback-up-{run_id}")
    return run_id


def _chosen(page: Page, run_id: str) -> str | None:
    """Which thumb the pane shows selected."""
    chosen = [name for name in ("up", "down")
              if any(e.props.get("color") == "primary"
                     for e in page.user.find(marker=f"chat-feedback-{name}-{run_id}").elements)]
    assert len(chosen) <= 1, chosen
    return chosen[0] if chosen else None


def _stored(session: Session, run_id: str) -> tuple[int, str | None] | None:
    row = get_feedback(session, "1", run_id)
    return (row.rating, row.comment) if row else None
