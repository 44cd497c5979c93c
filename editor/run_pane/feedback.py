"""Feedback under a chat answer (issue 17): thumbs up or down, then an optional comment. It goes
through the experiments service the HTTP API uses (``feedback`` to give it, ``feedback_on`` to read
a chat's answers in one query), so the pane, the API and the widget store one rating a run with one
comment limit."""
from __future__ import annotations

from collections.abc import Iterable

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, Invalid, ServiceError
from editor.services.experiments import MAX_COMMENT, FeedbackInfo

from .marks import tag

THUMBS = ((1, "up", "thumb_up", "Helpful"), (-1, "down", "thumb_down", "Not helpful"))


async def given_feedback(context: AkisContext, tenant_id: str, run_ids: Iterable[str]) -> dict[str, FeedbackInfo]:
    """The feedback already on these runs, wherever it was given (here, the API, a widget), in
    one read; a run without any is left out. Storage errors reach the caller, who says so in place."""
    return await context.experiments.feedback_on(tenant_id, list(run_ids))


class FeedbackBar(ui.column):
    """The thumbs under one answer, the chosen one shown selected; after a thumb, a comment box.
    A thumb sends the comment already saved with it, so changing the thumb keeps the comment."""

    def __init__(self, context: AkisContext, tenant_id: str, run_id: str, given: FeedbackInfo | None) -> None:
        super().__init__()
        self.context, self.tenant_id, self.run_id = context, tenant_id, run_id
        self.rating = given.rating if given is not None else None
        self.comment = given.comment if given is not None else None
        self.thumbs: dict[int, ui.button] = {}
        self.classes("w-full gap-0 -mt-2 mb-1")
        with self:
            with ui.row().classes("gap-0 items-center no-wrap"):
                for rating, name, icon, label in THUMBS:
                    button = tag(ui.button(icon=icon), f"chat-feedback-{name}-{run_id}")
                    button.props("flat round dense size=sm").tooltip(label)
                    button.on_click(lambda _, r=rating: self._rate(r))
                    self.thumbs[rating] = button
                self.saved = tag(ui.label(), f"chat-feedback-comment-{run_id}").classes(
                    "text-caption text-grey-7 ml-1 italic")
            with ui.row().classes("w-full items-center gap-1 no-wrap") as self.editor:
                hint = f"What could be better? (optional, up to {MAX_COMMENT} characters)"
                self.note = tag(ui.input(placeholder=hint), f"chat-feedback-note-{run_id}")
                self.note.props("dense outlined").classes("grow")
                tag(ui.button("Send", on_click=self._send), f"chat-feedback-send-{run_id}").props("flat dense no-caps")
            self.problem = tag(ui.label(), f"chat-feedback-problem-{run_id}").classes("text-negative text-caption")
        self.editor.set_visibility(False)
        self.problem.set_visibility(False)
        self._show()

    def _show(self) -> None:
        for rating, button in self.thumbs.items():
            chosen = rating == self.rating
            button.props("color=primary aria-pressed=true" if chosen else "aria-pressed=false",
                         remove=None if chosen else "color")
        self.saved.set_text(f"“{self.comment}”" if self.comment else "")
        self.saved.set_visibility(bool(self.comment) and not self.editor.visible)

    def _say(self, problem: str | None) -> None:
        self.problem.set_text(problem or "")
        self.problem.set_visibility(problem is not None)

    async def _save(self, rating: int, comment: str | None) -> FeedbackInfo | None:
        try:
            saved = await self.context.experiments.feedback(self.tenant_id, self.run_id, rating, comment)
        except Invalid as exc:  # a comment over MAX_COMMENT: the service's own words, nothing stored
            self._say(f"Not saved: {exc.detail}. Shorten the comment and send it again.")
            return None
        except ServiceError as exc:
            self._say(None)
            ui.notify(f"Feedback not saved: {exc.detail}", type="warning")
            return None
        except DATABASE_ERRORS as exc:
            self._say(None)
            ui.notify(f"Feedback not saved: {exc}", type="warning")
            return None
        self._say(None)
        self.rating, self.comment = saved.rating, saved.comment
        return saved

    async def _rate(self, rating: int) -> None:
        if await self._save(rating, self.comment) is None:
            return
        if not self.editor.visible:
            self.note.set_value(self.comment or "")
            self.editor.set_visibility(True)
        self._show()
        ui.notify("Thanks: feedback saved on this run")

    async def _send(self) -> None:
        text = str(self.note.value or "").strip()
        if self.rating is None:
            return
        if not text and not self.comment:
            self._say("Write a comment to send it; the thumb is saved already.")
            return
        if await self._save(self.rating, text) is None:
            return
        self.editor.set_visibility(False)
        self._show()
        ui.notify("Thanks: comment saved on this run" if self.comment else "Comment removed from this run")
