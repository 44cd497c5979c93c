"""API tokens: shown once, stored as sha256, found by a public prefix id.

A token reads ``akis_<id>_<secret>``; ``id`` is the row key (safe to show and log), the hash
covers the whole token. Tokens are random (256 bits), so a fast hash is the right choice;
passwords, which are not, use argon2 (see ``users``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, col, select

from ..models import ApiToken
from ..types import utcnow
from ._common import revoke_row, tenant_key
from .tenants import ensure_tenant

PREFIX = "akis"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, tenant_id: str, name: str = "") -> tuple[ApiToken, str]:
    """The stored row and the plaintext token (print it once; it cannot be recovered)."""
    tenant = tenant_key(tenant_id)
    ensure_tenant(session, tenant)
    token_id = secrets.token_hex(6)
    plaintext = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    row = ApiToken(id=token_id, tenant_id=tenant, name=name, token_hash=hash_token(plaintext))
    session.add(row)
    session.flush()
    return row, plaintext


def list_tokens(session: Session, tenant_id: str) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.tenant_id == tenant_key(tenant_id)).order_by(col(ApiToken.created_at))
    return list(session.exec(query))


def revoke_token(session: Session, tenant_id: str, token_id: str) -> bool:
    """Mark the token revoked; False when this tenant has no such (live) token."""
    return revoke_row(session, ApiToken, tenant_id, token_id)


def verify_token(session: Session, token: str) -> str | None:
    """The tenant a live token belongs to, or None. This is where the tenant comes from."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = session.get(ApiToken, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, hash_token(token.strip())):
        return None
    row.last_used_at = utcnow()
    session.add(row)
    session.flush()
    return row.tenant_id


def any_live_tokens(session: Session) -> bool:
    """Whether any tenant has a token that is not revoked (the bind-address safety check)."""
    query = select(ApiToken.id).where(col(ApiToken.revoked_at).is_(None)).limit(1)
    return session.exec(query).first() is not None
