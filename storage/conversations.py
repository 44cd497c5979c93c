"""The runtime's ConversationStore port over the ``conversation_messages`` table."""
from __future__ import annotations

from runtime.ports import ChatMessage

from .db import Database
from .repos import messages


class SqlConversationStore:
    """History and idempotent saves; each call is one short transaction in a worker thread."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def history(self, tenant_id: str, session_id: str, limit: int) -> list[ChatMessage]:
        rows = await self.database.run(messages.history, tenant_id, session_id, limit)
        return messages.to_chat(rows)

    async def save(self, tenant_id: str, session_id: str, messages_: list[ChatMessage]) -> int:
        return await self.database.run(messages.save_messages, tenant_id, session_id, messages_)

    async def next_seq(self, tenant_id: str, session_id: str) -> int:
        return await self.database.run(messages.next_seq, tenant_id, session_id)
