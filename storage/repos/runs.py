"""Runs: one row per finished flow execution, written once with its result."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..models import Run
from ..types import utcnow
from ._common import insert_ignore, jsonable, tenant_key


def record_run(
    session: Session,
    tenant_id: str,
    run_id: str,
    flow_id: str,
    *,
    status: str,
    flow_version: int | None = None,
    session_id: str = "",
    inputs: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    started_at: datetime | None = None,
    duration_ms: float | None = None,
    first_chunk_ms: float | None = None,
    timings: dict[str, float] | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    trace_id: str | None = None,
    experiment_id: str | None = None,
    variant: str | None = None,
    evaluation_id: str | None = None,
) -> bool:
    """Store a finished run in one write; False when this run id was already recorded."""
    finished = utcnow()
    started = started_at or (finished - timedelta(milliseconds=duration_ms or 0))
    return bool(insert_ignore(session, Run, {
        "id": run_id, "tenant_id": tenant_key(tenant_id), "flow_id": str(flow_id), "flow_version": flow_version,
        "session_id": session_id, "status": status, "inputs": jsonable(inputs or {}),
        "output": jsonable(output) if output is not None else None, "error": error, "started_at": started,
        "finished_at": finished, "duration_ms": duration_ms, "first_chunk_ms": first_chunk_ms,
        "timings": jsonable(timings or {}), "tokens_in": tokens_in, "tokens_out": tokens_out,
        "trace_id": trace_id or None, "experiment_id": experiment_id, "variant": variant,
        "evaluation_id": evaluation_id,
    }))


def get_run(session: Session, tenant_id: str, run_id: str) -> Run | None:
    query = select(Run).where(Run.id == run_id, Run.tenant_id == tenant_key(tenant_id))
    return session.exec(query).first()


def list_runs(
    session: Session, tenant_id: str, flow_id: str | None = None, limit: int = 50
) -> list[Run]:
    """Newest first, optionally for one flow."""
    query = select(Run).where(Run.tenant_id == tenant_key(tenant_id))
    if flow_id is not None:
        query = query.where(Run.flow_id == str(flow_id))
    return list(session.exec(query.order_by(col(Run.started_at).desc()).limit(limit)))


def newest_runs(session: Session, tenant_id: str) -> dict[str, tuple[datetime, str]]:
    """Each flow with runs -> (start, status) of its newest run, in one query (the flows list)."""
    tenant = tenant_key(tenant_id)
    newest = (select(Run.flow_id, func.max(Run.started_at).label("started")).where(Run.tenant_id == tenant)
              .group_by(col(Run.flow_id)).subquery())
    query = (select(Run.flow_id, Run.started_at, Run.status)
             .join(newest, (col(Run.flow_id) == newest.c.flow_id) & (col(Run.started_at) == newest.c.started))
             .where(Run.tenant_id == tenant))
    return {str(flow_id): (started, str(status)) for flow_id, started, status in session.exec(query)}


def slowest_runs(session: Session, tenant_id: str, since: datetime, until: datetime | None = None,
                 flow_id: str | None = None, limit: int = 10) -> list[Run]:
    """The tenant's slowest finished runs started in [since, until), slowest first; at most
    ``limit`` (1 to 100) rows, so the dashboard's table stays small whatever the range holds."""
    limit = max(1, min(int(limit), 100))
    query = select(Run).where(Run.tenant_id == tenant_key(tenant_id), col(Run.started_at) >= since,
                              col(Run.duration_ms).is_not(None))
    if until is not None:
        query = query.where(col(Run.started_at) < until)
    if flow_id is not None:
        query = query.where(Run.flow_id == str(flow_id))
    return list(session.exec(query.order_by(col(Run.duration_ms).desc(), col(Run.started_at).desc()).limit(limit)))
