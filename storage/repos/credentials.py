"""Provider credentials: the secret is encrypted before it reaches a column."""
from __future__ import annotations

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
