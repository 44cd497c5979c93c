"""Chat mode: the session's stored conversation, the same messages ``conversation_history``
gives the flow on the next turn (save_message stores each turn in the background)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS

from .data import chat_history
from .feedback import FeedbackBar, given_feedback
from .marks import tag


class ChatView(ui.column):
    def __init__(self, context: AkisContext) -> None:
        super().__init__()
        self.context = context
        self.classes("w-full gap-0")
        self.count = 0
        self.after_refresh: Callable[[], None] | None = None  # ChatLayout's: a new turn is shown

    async def refresh(self, tenant_id: str, session_id: str) -> None:
        try:
            rows = await chat_history(self.context, tenant_id, session_id)
            answers = [row.run_id for row in rows if row.role != "user" and row.run_id]
            given = await given_feedback(self.context, tenant_id, answers)  # rated here or elsewhere
        except DATABASE_ERRORS as exc:  # storage down: say so in place of the history
            self.clear()
            with self:
                ui.label(f"The conversation could not be read: {exc}").classes("text-negative text-caption")
            return
        self.count = len(rows)
        self.clear()
        with self:
            if not rows:
                tag(ui.label(f"No messages in session '{session_id}' yet: each run adds a turn."),
                    "chat-empty").classes("text-caption text-grey-7")
            for row in rows:
                user = row.role == "user"
                tag(ui.chat_message(row.content, name="you" if user else "assistant", sent=user),
                    f"chat-{row.role}").classes("w-full")
                if not user and row.run_id:  # the feedback an A/B test counts per variant
                    FeedbackBar(self.context, tenant_id, row.run_id, given.get(row.run_id))
        if self.after_refresh is not None:
            self.after_refresh()


class ChatLayout:
    """Chat mode lays the pane out like a chat: the transcript, under it the reply being written,
    under that the message box. Once the transcript holds the reply (save_message stored the
    turn), the reply's card goes, and the run's Output JSON (the same answer again) is not shown
    in chat mode: the answer appears once."""

    def __init__(self, chat: ChatView, message: ui.element, answers: ui.element, result: ui.element) -> None:
        self.chat, self.message, self.answers, self.result = chat, message, answers, result
        self.on = False
        self.shown = chat.count
        parent = message.parent_slot.parent if message.parent_slot is not None else None
        self.home = (parent, parent.default_slot.children.index(message) if parent is not None else 0)
        chat.after_refresh = self._turn_shown

    def set(self, on: bool) -> None:
        self.on = on
        if on:
            self.result.classes(add="akis-chat-result")
            self.message.classes(add="akis-chat-input")
        else:
            self.result.classes(remove="akis-chat-result")
            self.message.classes(remove="akis-chat-input")
        container = self.answers.parent_slot.parent if self.answers.parent_slot is not None else None
        if on and container is not None:
            self.message.move(container, container.default_slot.children.index(self.answers) + 1)
        elif self.home[0] is not None:
            self.message.move(self.home[0], self.home[1])

    def follow(self, switch: ui.switch, send: Callable[[], Any] | None = None) -> ChatLayout:
        """Lay out for chat whenever ``switch`` (the pane's Chat switch) is on; ``send`` (the
        pane's Run) then answers Enter in the message box, as a chat does (Shift+Enter: a new line)."""
        switch.on_value_change(lambda e: self.set(bool(e.value)))
        if send is not None:
            self.message.on("keydown", lambda _: send(), js_handler=(
                "(e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing"
                " && e.target.closest('.akis-chat-input')) { e.preventDefault(); emit(); } }"))
        if switch.value:
            self.set(True)
        return self

    def _turn_shown(self) -> None:
        if self.on and self.chat.count > self.shown:
            self.answers.set_visibility(False)  # the transcript has the reply now
        self.shown = self.chat.count
