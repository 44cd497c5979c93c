"""Tenants: created on demand by the write paths that reference them."""
from __future__ import annotations

from sqlmodel import Session, col, select

from ..models import Tenant
from ..types import utcnow
from ._common import insert_ignore, tenant_key


def ensure_tenant(session: Session, tenant_id: str, name: str = "") -> Tenant:
    """The tenant row, inserted when missing (management rows reference it). Race-free."""
    key = tenant_key(tenant_id)
    tenant = session.get(Tenant, key)
    if tenant is None:
        insert_ignore(session, Tenant, {"id": key, "name": name or f"Tenant {key}", "created_at": utcnow()})
        tenant = session.get(Tenant, key)
    assert tenant is not None
    return tenant


def list_tenant_ids(session: Session) -> list[str]:
    """Every tenant id. System use only (the worker's scheduled warm-up visits each tenant);
    it returns ids, never a tenant's rows."""
    return list(session.exec(select(Tenant.id).order_by(col(Tenant.id))))
