"""Provider credentials: the secret is encrypted before it reaches a column."""
from __future__ import annotations

import json

from sqlalchemy import delete
from sqlmodel import Session, col, select

from ..crypto import SecretBox, default_box
from ..models import Credential
from ..types import utcnow
from ._common import tenant_key
from .tenants import ensure_tenant


def set_credential(
    session: Session, tenant_id: str, name: str, provider: str, secret: str, *, box: SecretBox | None = None
) -> Credential:
    """Create or replace the credential ``name`` for this tenant."""
    tenant = tenant_key(tenant_id)
    ensure_tenant(session, tenant)
    encrypted = (box or default_box()).encrypt(secret)
    credential = session.get(Credential, (tenant, name))
    now = utcnow()
    if credential is None:
        credential = Credential(tenant_id=tenant, name=name, provider=provider, secret_encrypted=encrypted,
                                created_at=now, updated_at=now)
    else:
        credential.provider, credential.secret_encrypted, credential.updated_at = provider, encrypted, now
    session.add(credential)
    session.flush()
    return credential


def get_credential(session: Session, tenant_id: str, name: str) -> Credential | None:
    return session.get(Credential, (tenant_key(tenant_id), name))


def get_secret(session: Session, tenant_id: str, name: str, *, box: SecretBox | None = None) -> str | None:
    """The decrypted secret, or None when this tenant has no such credential."""
    credential = get_credential(session, tenant_id, name)
    return (box or default_box()).decrypt(credential.secret_encrypted) if credential else None


def list_credentials(session: Session, tenant_id: str) -> list[Credential]:
    query = select(Credential).where(Credential.tenant_id == tenant_key(tenant_id)).order_by(col(Credential.name))
    return list(session.exec(query))


def delete_credential(session: Session, tenant_id: str, name: str) -> bool:
    result = session.exec(
        delete(Credential).where(col(Credential.tenant_id) == tenant_key(tenant_id), col(Credential.name) == name)
    )
    return bool(result.rowcount)


def save_provider_credential(session: Session, tenant_id: str, name: str, provider: str, api_key: str,
                             base_url: str, *, box: SecretBox | None = None) -> Credential:
    """A provider's key and base URL, encrypted together (Settings' provider credentials)."""
    secret = json.dumps({"api_key": api_key, "base_url": base_url})
    return set_credential(session, tenant_id, name, provider, secret, box=box)


def read_provider_credential(session: Session, tenant_id: str, name: str,
                             *, box: SecretBox | None = None) -> tuple[str, str] | None:
    """(api_key, base_url) of a stored credential; a secret stored as plain text is the key."""
    secret = get_secret(session, tenant_id, name, box=box)
    if secret is None:
        return None
    try:
        data = json.loads(secret)
    except ValueError:
        return secret, ""
    if not isinstance(data, dict):
        return secret, ""
    return str(data.get("api_key") or ""), str(data.get("base_url") or "")
