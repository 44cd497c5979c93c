"""Editor sessions: one row per signed-in browser, checked on every request and revocable.

The browser's cookie carries the session's public ``id`` and a random secret (signed by the
editor); the row keeps only sha256 of the secret, like API tokens. A session ends when it
expires, when it is revoked (logout, ``akis user sessions --revoke``, a password change), or
when its user is deleted (the rows go with the user).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from ..errors import NotFound
from ..models import EditorSession, User
from ..types import utcnow
from ._common import tenant_key

# Dead rows (revoked or expired) of a user are deleted this long after they ended.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """What a valid session says about its browser: who, for which tenant, until when."""

    id: str
    tenant_id: str
    username: str
    user_id: int
    expires_at: datetime


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(session: Session, tenant_id: str, username: str) -> User | None:
    query = select(User).where(User.tenant_id == tenant_key(tenant_id), User.username == username)
    return session.exec(query).first()


def create_session(session: Session, tenant_id: str, username: str, *, max_age_s: float = 12 * 3600,
                   user_agent: str = "", address: str = "") -> tuple[EditorSession, str]:
    """A new session for the user and its secret (it goes into the cookie, never into a row)."""
    user = _user(session, tenant_id, username)
    if user is None or user.id is None:
        raise NotFound(f"user {username!r} not found for tenant {tenant_key(tenant_id)}")
    now = utcnow()
    session.exec(delete(EditorSession).where(
        col(EditorSession.user_id) == user.id,
        or_(col(EditorSession.expires_at) < now - KEEP_ENDED, col(EditorSession.revoked_at) < now - KEEP_ENDED)))
    secret = secrets.token_urlsafe(32)
    row = EditorSession(id=secrets.token_hex(12), secret_hash=hash_secret(secret), user_id=user.id,
                        tenant_id=user.tenant_id, created_at=now, last_seen_at=now,
                        expires_at=now + timedelta(seconds=max_age_s), user_agent=(user_agent or "")[:300],
                        address=(address or "")[:64])
    session.add(row)
    session.flush()
    return row, secret


def lookup_session(session: Session, session_id: str, secret: str, *,
                   touch_after_s: float = 60.0) -> ActiveSession | None:
    """The live session a cookie names, or None (unknown, wrong secret, revoked, expired, user
    gone). This is where a browser's tenant comes from. ``last_seen_at`` is written at most
    every ``touch_after_s``."""
    if not session_id or len(session_id) > 32:
        return None
    found = session.exec(select(EditorSession, User).join(User, col(User.id) == col(EditorSession.user_id))
                         .where(EditorSession.id == session_id)).first()
    if found is None:
        return None
    row, user = found
    if not hmac.compare_digest(row.secret_hash, hash_secret(secret or "")):
        return None
    now = utcnow()
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    if (now - row.last_seen_at).total_seconds() >= touch_after_s:
        session.exec(update(EditorSession).where(col(EditorSession.id) == row.id).values(last_seen_at=now))
    return ActiveSession(row.id, row.tenant_id, user.username, user.id or 0, row.expires_at)


def list_sessions(session: Session, tenant_id: str, username: str, *,
                  include_ended: bool = False) -> list[EditorSession]:
    """The user's sessions, newest first; live ones only unless ``include_ended``."""
    user = _user(session, tenant_id, username)
    if user is None:
        return []
    query = select(EditorSession).where(EditorSession.user_id == user.id,
                                        EditorSession.tenant_id == user.tenant_id)
    if not include_ended:
        query = query.where(col(EditorSession.revoked_at).is_(None), col(EditorSession.expires_at) > utcnow())
    return list(session.exec(query.order_by(col(EditorSession.created_at).desc(), col(EditorSession.id))))


def revoke_session(session: Session, tenant_id: str, username: str, session_id: str) -> bool:
    """End one of the user's sessions; False when the user has no such live session."""
    user = _user(session, tenant_id, username)
    if user is None:
        return False
    result = session.exec(update(EditorSession).where(
        col(EditorSession.id) == session_id, col(EditorSession.user_id) == user.id,
        col(EditorSession.tenant_id) == user.tenant_id, col(EditorSession.revoked_at).is_(None),
    ).values(revoked_at=utcnow()))
    return bool(result.rowcount)


def revoke_user_sessions(session: Session, tenant_id: str, username: str, *, keep: str | None = None) -> int:
    """End every live session of the user (but ``keep``); the number ended."""
    user = _user(session, tenant_id, username)
    if user is None:
        return 0
    statement = update(EditorSession).where(
        col(EditorSession.user_id) == user.id, col(EditorSession.tenant_id) == user.tenant_id,
        col(EditorSession.revoked_at).is_(None), col(EditorSession.expires_at) > utcnow())
    if keep:
        statement = statement.where(col(EditorSession.id) != keep)
    return int(session.exec(statement.values(revoked_at=utcnow())).rowcount or 0)
