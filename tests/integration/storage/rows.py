"""Row-level helpers the tests need and the app does not: deleting a user the way an operator
would (straight in the database), counting a tenant's metric rows."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from storage.models import NodeMetric, User
from storage.types import utcnow


def delete_user(session: Session, tenant_id: str, username: str) -> bool:
    """Delete the user row; the database deletes its editor sessions with it (ON DELETE CASCADE)."""
    result = session.exec(delete(User).where(col(User.tenant_id) == tenant_id, col(User.username) == username))
    return bool(result.rowcount)


def count_metrics(session: Session, tenant_id: str, since: timedelta | datetime | None = None) -> int:
    query = select(func.count()).select_from(NodeMetric).where(col(NodeMetric.tenant_id) == tenant_id)
    if since is not None:
        start = utcnow() - since if isinstance(since, timedelta) else since
        query = query.where(col(NodeMetric.created_at) >= start)
    return int(session.exec(query).one())
