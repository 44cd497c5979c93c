"""Chat mode: the session's stored conversation, the same messages ``conversation_history``
gives the flow on the next turn (save_message stores each turn in the background)."""
from __future__ import annotations

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS

from .data import chat_history
from .marks import tag


class ChatView(ui.column):
    def __init__(self, context: AkisContext) -> None:
        super().__init__()
        self.context = context
        self.classes("w-full gap-0")
        self.count = 0

    async def refresh(self, tenant_id: str, session_id: str) -> None:
        try:
            rows = await chat_history(self.context, tenant_id, session_id)
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
