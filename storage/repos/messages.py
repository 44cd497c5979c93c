"""Conversation messages: saved idempotently, unique per (tenant, session, seq)."""
from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from runtime.ports import ChatMessage

from ..models import Message
from ..types import utcnow
from ._common import insert_ignore, tenant_key


def save_messages(
    session: Session, tenant_id: str, session_id: str, messages: list[ChatMessage]
) -> int:
    """Insert the messages that are new; returns how many were added.

    A message is skipped when its (session, seq) exists, or when its run already saved a
    message of that role: a retried job adds nothing, on both databases, even when two
    workers save at the same moment.
    """
    tenant = tenant_key(tenant_id)
    added = 0
    now = utcnow()
    for message in messages:
        added += insert_ignore(session, Message, {
            "tenant_id": tenant, "session_id": session_id, "seq": message.seq, "role": message.role,
            "content": message.content, "run_id": message.run_id, "created_at": now,
        })
    return added


def history(session: Session, tenant_id: str, session_id: str, limit: int = 20) -> list[Message]:
    """The last ``limit`` messages, oldest first."""
    if limit <= 0:
        return []
    query = (
        select(Message)
        .where(Message.tenant_id == tenant_key(tenant_id), Message.session_id == session_id)
        .order_by(col(Message.seq).desc())
        .limit(limit)
    )
    return list(reversed(list(session.exec(query))))


def next_seq(session: Session, tenant_id: str, session_id: str) -> int:
    query = select(func.max(Message.seq)).where(
        Message.tenant_id == tenant_key(tenant_id), Message.session_id == session_id
    )
    last = session.exec(query).one()
    return 0 if last is None else last + 1


def to_chat(rows: list[Message]) -> list[ChatMessage]:
    return [ChatMessage(role=r.role, content=r.content, seq=r.seq, run_id=r.run_id) for r in rows]
