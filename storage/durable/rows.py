"""The run row of a queued run and its checkpoints: every state change is one conditional
statement, so two workers can never both hold, finish or fail the same run.

queued -> running (claim: a worker, a lease, attempts + 1) -> succeeded | failed | cancelled
(finish: only by the worker holding it). A running run whose lease expired is claimed again
by another worker (takeover) or, after the last attempt, failed with a readable reason."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, update
from sqlmodel import Session, col, select

from runtime.engine.inspect import NodeRecord
from runtime.engine.result import RunResult
from runtime.events import Event
from storage.models import Run
from storage.recorder import RunLabels
from storage.repos._common import insert_ignore, jsonable, tenant_key
from storage.repos.node_runs import add_nodes
from storage.tables.durable import RunCheckpoint, RunRequest
from storage.types import utcnow

TERMINAL = ("succeeded", "failed", "cancelled")


_RUNS = Run.__table__  # type: ignore[attr-defined]  # SQLModel's table
_INSERT_RUN = insert(_RUNS)
_INSERT_REQUEST = insert(RunRequest.__table__)  # type: ignore[attr-defined]  # SQLModel's table
_TAKE_QUEUED = (
    _RUNS.update()
    .where(_RUNS.c.id == bindparam("run_id"), _RUNS.c.tenant_id == bindparam("tenant"), _RUNS.c.status == "queued")
    .values(status="running", worker=bindparam("worker"), lease_until=bindparam("lease_until"),
            heartbeat_at=bindparam("now"), attempts=_RUNS.c.attempts + 1)
    .returning(_RUNS.c.attempts)
)


def create_queued(connection: Connection, tenant_id: str, run_id: str, flow_id: str, *, flow_version: int | None,
                  session_id: str, inputs: dict[str, Any], labels: RunLabels, document: dict[str, Any],
                  start_cursor: int, trace_parent: dict[str, str] | None) -> tuple[Run, RunRequest]:
    """The run row (``queued``) and what a worker needs to execute it, in one transaction
    (``Database.call_statement``: two prebuilt inserts, on the path to a queued run's first
    chunk); both as stored (the web process makes the run's ticket from them: ``ticket.py``)."""
    tenant = tenant_key(tenant_id)
    run = Run(id=run_id, tenant_id=tenant, flow_id=str(flow_id), flow_version=flow_version, session_id=session_id,
              status="queued", inputs=jsonable(inputs), attempts=0, experiment_id=labels.experiment_id,
              variant=labels.variant, evaluation_id=labels.evaluation_id)
    request = RunRequest(run_id=run_id, tenant_id=tenant, document=document, start_cursor=start_cursor,
                         trace_parent=dict(trace_parent or {}))
    connection.execute(_INSERT_RUN, _columns(run))
    connection.execute(_INSERT_REQUEST, _columns(request))
    return run, request


def _columns(row: Run | RunRequest) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}  # type: ignore[union-attr]  # SQLModel's table


def request(session: Session, tenant_id: str, run_id: str) -> RunRequest | None:
    query = select(RunRequest).where(RunRequest.run_id == run_id, RunRequest.tenant_id == tenant_key(tenant_id))
    return session.exec(query).first()


def claim(session: Session, tenant_id: str, run_id: str, worker: str, lease_s: float) -> Run | None:
    """Hold the run for ``lease_s``: a queued one, or a running one whose lease expired (its
    worker died). None when another worker holds it or it has ended."""
    now = utcnow()
    statement = (
        update(Run)
        .where(col(Run.id) == run_id, col(Run.tenant_id) == tenant_key(tenant_id),
               or_(col(Run.status) == "queued", (col(Run.status) == "running") & (col(Run.lease_until) < now)))
        .values(status="running", worker=worker, lease_until=now + timedelta(seconds=lease_s), heartbeat_at=now,
                attempts=col(Run.attempts) + 1)
        .returning(Run)  # the row as taken, in the same statement (a worker's start waits for it)
    )
    return session.execute(statement, execution_options={"synchronize_session": False}).scalars().first()


def take_queued(connection: Connection, tenant_id: str, run_id: str, worker: str, lease_s: float) -> bool:
    """:func:`claim` for a run started from its ticket (``ticket.py``): only a queued run, only
    its first attempt. One prebuilt statement (``Database.run_statement``): 0.15 ms of CPU
    against 0.9 ms through the ORM, on the path to the first chunk (bench/bench_durable.py)."""
    now = utcnow()
    attempts = connection.execute(_TAKE_QUEUED, {"run_id": run_id, "tenant": tenant_key(tenant_id), "worker": worker,
                                                 "lease_until": now + timedelta(seconds=lease_s), "now": now}).scalar()
    return attempts == 1


@dataclass(frozen=True)
class Claim:
    """What a worker needs once it holds a run: its row, its request, its checkpoints."""

    run: Run
    request: RunRequest | None
    known: dict[str, tuple[dict[str, Any], str | None]]


def claim_run(session: Session, tenant_id: str, run_id: str, worker: str, lease_s: float) -> Claim | None:
    """:func:`claim`, then the request and (a run taken over) the checkpoints: one unit of work."""
    run = claim(session, tenant_id, run_id, worker, lease_s)
    if run is None:
        return None
    known = checkpoints(session, tenant_id, run_id) if run.attempts > 1 else {}
    return Claim(run, request(session, tenant_id, run_id), known)


def heartbeat(session: Session, run_ids: list[str], worker: str, lease_s: float) -> set[str]:
    """Extend the leases this worker still holds; the ids it holds (a run missing was lost)."""
    if not run_ids:
        return set()
    now = utcnow()
    statement = (
        update(Run)
        .where(col(Run.id).in_(run_ids), col(Run.worker) == worker, col(Run.status) == "running")
        .values(lease_until=now + timedelta(seconds=lease_s), heartbeat_at=now)
        .returning(col(Run.id))
    )
    return {row[0] for row in session.execute(statement).all()}


def finish(session: Session, tenant_id: str, run_id: str, worker: str, *, nodes: Sequence[NodeRecord] = (),
           secrets: Iterable[str] = (), **fields: Any) -> bool:
    """End a run this worker holds (status, output, error, timings ..., and its nodes' records in
    the same unit of work); False when it does not hold it any more (another worker took it
    over): the stored result is that worker's."""
    statement = (
        update(Run)
        .where(col(Run.id) == run_id, col(Run.tenant_id) == tenant_key(tenant_id), col(Run.worker) == worker,
               col(Run.status) == "running")
        .values(finished_at=utcnow(), lease_until=None, **fields)
        .returning(col(Run.id))
    )
    if not session.execute(statement).all():
        return False
    add_nodes(session, tenant_id, run_id, nodes, secrets)
    return True


def end_unheld(session: Session, tenant_id: str, run_id: str, status: str, error: str,
               from_status: tuple[str, ...] = ("queued",)) -> bool:
    """End a run no worker holds (cancelled while queued; failed after its last attempt)."""
    now = utcnow()
    held = (col(Run.status) == "running") & (col(Run.lease_until) >= now)
    statement = (
        update(Run)
        .where(col(Run.id) == run_id, col(Run.tenant_id) == tenant_key(tenant_id), col(Run.status).in_(from_status),
               ~held)
        .values(status=status, error=error, finished_at=now, lease_until=None)
        .returning(col(Run.id))
    )
    return bool(session.execute(statement).all())


def expired(session: Session, now: datetime | None = None, limit: int = 100) -> list[Run]:
    """Running runs whose worker stopped renewing the lease (all tenants: the workers' reaper)."""
    query = select(Run).where(Run.status == "running", col(Run.lease_until) < (now or utcnow()))
    return list(session.exec(query.order_by(col(Run.lease_until)).limit(limit)))


def still_queued(session: Session, run_ids: list[str]) -> set[str]:
    """Which of these runs are still waiting for a worker (all tenants: the workers' reaper)."""
    if not run_ids:
        return set()
    query = select(Run.id).where(col(Run.id).in_(run_ids), Run.status == "queued")
    return set(session.exec(query).all())


def long_queued(session: Session, older_than_s: float, limit: int = 50) -> list[tuple[str, str]]:
    """(tenant, run) of runs waiting for longer than ``older_than_s``, oldest first (all tenants:
    the workers' reaper checks that each is really on the Redis queue)."""
    before = utcnow() - timedelta(seconds=older_than_s)
    query = select(Run.tenant_id, Run.id).where(Run.status == "queued", col(Run.started_at) < before)
    return [(str(tenant), str(run)) for tenant, run in session.exec(query.order_by(col(Run.started_at)).limit(limit))]


def delete_queued(session: Session, tenant_id: str, run_id: str) -> None:
    """Undo :func:`create_queued` for a run the queue refused (over a limit): no row is left."""
    tenant = tenant_key(tenant_id)
    for model, key in ((RunRequest, RunRequest.run_id), (Run, Run.id)):
        row = session.exec(select(model).where(key == run_id, model.tenant_id == tenant)).first()
        if row is not None:
            session.delete(row)
            session.flush()


def save_checkpoint(session: Session, tenant_id: str, run_id: str, node_id: str, output: dict[str, Any],
                    text: str | None, attempt: int) -> bool:
    return bool(insert_ignore(session, RunCheckpoint, {
        "run_id": run_id, "node_id": node_id, "tenant_id": tenant_key(tenant_id), "output": jsonable(output),
        "text": text, "attempt": attempt, "created_at": utcnow(),
    }))


def checkpoints(session: Session, tenant_id: str, run_id: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """node id -> (output, streamed text) of the run's finished nodes."""
    query = select(RunCheckpoint).where(RunCheckpoint.run_id == run_id,
                                        RunCheckpoint.tenant_id == tenant_key(tenant_id))
    return {row.node_id: (dict(row.output), row.text) for row in session.exec(query)}


def status_of(session: Session, tenant_id: str, run_id: str) -> Run | None:
    return session.exec(select(Run).where(Run.id == run_id, Run.tenant_id == tenant_key(tenant_id))).first()


def final_columns(result: RunResult | None, event: Event | None) -> dict[str, Any]:
    """The run row's final columns from the run's result (None: it was cancelled) and its
    ``run.finished`` event."""
    if result is None:
        return {"status": "cancelled", "error": "the run was cancelled",
                "duration_ms": event.duration_ms if event is not None else None}
    usage = result.usage or {}
    return {
        "status": result.status, "output": json.loads(json.dumps(result.output, default=str)),
        "error": result.error, "duration_ms": result.total_ms, "first_chunk_ms": result.first_chunk_ms,
        "timings": {node_id: timing.duration_ms for node_id, timing in result.nodes.items()},
        "tokens_in": int(usage.get("tokens_in", 0)), "tokens_out": int(usage.get("tokens_out", 0)),
        "trace_id": result.trace_id or None,
    }
