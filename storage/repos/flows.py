"""Flows with immutable versions: every save appends a version and moves the pointer."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from runtime.flow.model import ID_PATTERN, FlowDocument

from ..errors import Conflict, NotFound, StorageError
from ..models import Flow, FlowVersion
from ..types import utcnow
from ._common import insert_ignore, tenant_key
from .tenants import ensure_tenant

_ID_RE = re.compile(ID_PATTERN)
_FLOWS = Flow.__table__  # type: ignore[attr-defined]  # SQLModel's table
_HEAD = (core_select(_FLOWS.c.id, _FLOWS.c.name, _FLOWS.c.current_version, _FLOWS.c.created_at, _FLOWS.c.updated_at)
         .where(_FLOWS.c.tenant_id == bindparam("tenant"), _FLOWS.c.id == bindparam("flow")))


def flow_key(flow_id: str | int) -> str:
    """Flow ids are strings; a numeric id (``6``) becomes ``"6"``."""
    key = str(flow_id).strip()
    if not _ID_RE.match(key):
        raise StorageError(f"invalid flow id {flow_id!r}: letters, digits, '_', '-', '.' (1 to 64)")
    return key


def as_document(document: FlowDocument | dict[str, Any]) -> FlowDocument:
    if isinstance(document, FlowDocument):
        return document
    return FlowDocument.model_validate(document)


def save_flow(
    session: Session, tenant_id: str, document: FlowDocument | dict[str, Any], comment: str | None = None
) -> FlowVersion:
    """Store ``document`` as the flow's next version and make it current."""
    tenant = tenant_key(tenant_id)
    doc = as_document(document)
    key = flow_key(doc.flow_id)
    ensure_tenant(session, tenant)
    now = utcnow()
    locked = select(Flow).where(Flow.tenant_id == tenant, Flow.id == key).with_for_update()
    flow = session.exec(locked).first()
    if flow is None:  # insert first, then lock: two first saves of one flow serialise too
        insert_ignore(session, Flow, {"tenant_id": tenant, "id": key, "name": doc.name,
                                      "current_version": 0, "created_at": now, "updated_at": now})
        flow = session.exec(locked).one()
    last = session.exec(
        select(func.max(FlowVersion.version)).where(
            FlowVersion.tenant_id == tenant, FlowVersion.flow_id == key
        )
    ).one()
    version = FlowVersion(
        tenant_id=tenant, flow_id=key, version=(last or 0) + 1, document=doc.dump(),
        comment=(comment or None), created_at=now,
    )
    flow.name = doc.name
    flow.current_version = version.version
    flow.updated_at = now
    session.add(flow)
    session.add(version)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"flow {key!r} was saved by someone else at the same moment; save again") from None
    return version


def get_flow(session: Session, tenant_id: str, flow_id: str) -> Flow | None:
    return session.get(Flow, (tenant_key(tenant_id), flow_key(flow_id)))


@dataclass(frozen=True)
class FlowHead:
    """What running a stored flow needs of its row (the rest is in its version)."""

    id: str
    name: str
    current_version: int
    created_at: datetime
    updated_at: datetime


def flow_head(connection: Connection, tenant_id: str, flow_id: str) -> FlowHead | None:
    """:func:`get_flow`'s fields, read on every run of a stored flow: one prebuilt statement
    (``Database.run_statement``), 49 µs of CPU against 185 through the ORM (SQLite)."""
    row = connection.execute(_HEAD, {"tenant": tenant_key(tenant_id), "flow": flow_key(flow_id)}).first()
    return FlowHead(*row) if row is not None else None


def list_flows(session: Session, tenant_id: str) -> list[Flow]:
    query = select(Flow).where(Flow.tenant_id == tenant_key(tenant_id)).order_by(col(Flow.updated_at).desc())
    return list(session.exec(query))


def current_documents(session: Session, tenant_id: str) -> dict[str, dict[str, Any]]:
    """Each of the tenant's flows -> its current version's document, in one query (the flows list)."""
    tenant = tenant_key(tenant_id)
    current = and_(col(Flow.tenant_id) == col(FlowVersion.tenant_id), col(Flow.id) == col(FlowVersion.flow_id),
                   col(Flow.current_version) == col(FlowVersion.version))
    query = select(FlowVersion.flow_id, FlowVersion.document).join(Flow, current).where(FlowVersion.tenant_id == tenant)
    return {str(flow_id): dict(document or {}) for flow_id, document in session.exec(query)}


def get_version(session: Session, tenant_id: str, flow_id: str, version: int | None = None) -> FlowVersion | None:
    """One version, or the current one when ``version`` is None."""
    tenant, key = tenant_key(tenant_id), flow_key(flow_id)
    if version is None:
        flow = session.get(Flow, (tenant, key))
        if flow is None:
            return None
        version = flow.current_version
    return session.get(FlowVersion, (tenant, key, version))


def get_document(session: Session, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument | None:
    row = get_version(session, tenant_id, flow_id, version)
    return FlowDocument.model_validate(row.document) if row else None


def list_versions(session: Session, tenant_id: str, flow_id: str) -> list[FlowVersion]:
    """Newest first."""
    query = (
        select(FlowVersion)
        .where(FlowVersion.tenant_id == tenant_key(tenant_id), FlowVersion.flow_id == flow_key(flow_id))
        .order_by(col(FlowVersion.version).desc())
    )
    return list(session.exec(query))


def set_current_version(session: Session, tenant_id: str, flow_id: str, version: int) -> Flow:
    """Move the pointer (roll back or forward) without writing a new version."""
    tenant, key = tenant_key(tenant_id), flow_key(flow_id)
    flow = session.get(Flow, (tenant, key))
    if flow is None:
        raise NotFound(f"flow {key!r} not found for tenant {tenant}")
    target = session.get(FlowVersion, (tenant, key, version))
    if target is None:
        raise NotFound(f"flow {key!r} has no version {version}")
    flow.current_version = version
    flow.name = str(target.document.get("name", flow.name))
    flow.updated_at = utcnow()
    session.add(flow)
    session.flush()
    return flow


def delete_flow(session: Session, tenant_id: str, flow_id: str) -> bool:
    """Delete a flow with all its versions; False when there was none."""
    tenant, key = tenant_key(tenant_id), flow_key(flow_id)
    session.exec(delete(FlowVersion).where(col(FlowVersion.tenant_id) == tenant, col(FlowVersion.flow_id) == key))
    result = session.exec(delete(Flow).where(col(Flow.tenant_id) == tenant, col(Flow.id) == key))
    return bool(result.rowcount)
