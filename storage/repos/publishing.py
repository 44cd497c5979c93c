"""Publishable keys: made once (the plaintext is shown once), stored as sha256, found by a
public id, tenant-scoped like every repository.

They reuse the API tokens' scheme (``tokens.hash_token``) under another prefix, ``akispub``, so
a publishable key is never an API token: ``tokens.verify_token`` refuses it, and only the
widget's route (``editor/api/publishing.py``) reads it, for the one flow it names.
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence

from sqlmodel import Session, col, select

from ..errors import StorageError
from ..tables.publishing import PublishableKey
from ..types import utcnow
from ._common import revoke_row, tenant_key
from .tenants import ensure_tenant
from .tokens import hash_token

PREFIX = "akispub"
MAX_ORIGINS = 20


def create_key(session: Session, tenant_id: str, flow_id: str, *, name: str = "",
               allowed_origins: Sequence[str] = (), rate_per_minute: int = 20,
               created_by: str = "") -> tuple[PublishableKey, str]:
    """The stored row and the plaintext key (shown once; it cannot be recovered)."""
    tenant = tenant_key(tenant_id)
    if not flow_id.strip():
        raise StorageError("a publishable key needs a flow id")
    if len(allowed_origins) > MAX_ORIGINS:
        raise StorageError(f"at most {MAX_ORIGINS} allowed origins a key")
    ensure_tenant(session, tenant)
    key_id = secrets.token_hex(6)
    plaintext = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = PublishableKey(id=key_id, tenant_id=tenant, flow_id=flow_id.strip(), name=name.strip()[:100],
                         key_hash=hash_token(plaintext), allowed_origins=list(allowed_origins),
                         rate_per_minute=rate_per_minute, created_by=created_by[:100])
    session.add(row)
    session.flush()
    return row, plaintext


def list_keys(session: Session, tenant_id: str, flow_id: str | None = None) -> list[PublishableKey]:
    """The tenant's keys (of one flow when given), oldest first, revoked ones included."""
    query = select(PublishableKey).where(PublishableKey.tenant_id == tenant_key(tenant_id))
    if flow_id is not None:
        query = query.where(PublishableKey.flow_id == flow_id)
    return list(session.exec(query.order_by(col(PublishableKey.created_at))))


def revoke_key(session: Session, tenant_id: str, key_id: str) -> bool:
    """Mark the key revoked; False when this tenant has no such live key."""
    return revoke_row(session, PublishableKey, tenant_id, key_id)


def key_id_of(key: str) -> str | None:
    """The public id a key names, or None when it is not shaped like a publishable key."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def find_key(session: Session, key: str) -> PublishableKey | None:
    """The row whose hash matches the whole key, revoked or not (the caller tells a revoked key
    from an unknown one), or None. The tenant comes from here; ``last_used_at`` is noted."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    row = session.get(PublishableKey, key_id)
    if row is None or not hmac.compare_digest(row.key_hash, hash_token(key.strip())):
        return None
    if row.revoked_at is None:
        row.last_used_at = utcnow()
        session.add(row)
        session.flush()
    return row
