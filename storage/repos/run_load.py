"""The cluster's run load, read from the runs table: what an autoscaler needs.

System use (the readiness JSON and ``/metrics``): it returns counts and durations across every
tenant, never a tenant's rows. The runs table is the one place every web instance and worker
writes a run's state (queued, running with its worker and lease, finished), so any instance
reads the same figures without the workers reporting anywhere else. The queries use the
``(status, lease_until)`` index for the live states and ``(tenant_id, started_at)`` per tenant
for the recent durations: no scan of the whole table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..models import Run
from ..types import utcnow
from .tenants import list_tenant_ids

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class RunLoad:
    queued: int = 0  # runs waiting for a worker
    oldest_queued_at: datetime | None = None  # when the longest-waiting one was queued
    running_per_worker: dict[str, int] = field(default_factory=dict)  # runs a worker holds now
    lease_expired: int = 0  # running past its lease: its worker died, a takeover is due
    durations_ms: list[float] = field(default_factory=list)  # recent finished runs, start to end
    first_chunk_ms: list[float] = field(default_factory=list)  # the same runs' time to the first chunk

    @property
    def running(self) -> int:
        return sum(self.running_per_worker.values())


def run_load(session: Session, since: datetime, per_tenant: int = 200) -> RunLoad:
    """Queued and running runs now, and the durations of up to ``per_tenant`` runs per tenant
    that started since ``since`` and have finished."""
    load = RunLoad()
    queued = session.exec(select(func.count(), func.min(Run.started_at)).where(Run.status == "queued")).one()
    load.queued, load.oldest_queued_at = int(queued[0] or 0), queued[1]
    per_worker = session.exec(select(Run.worker, func.count()).where(Run.status == "running")
                              .group_by(col(Run.worker))).all()
    load.running_per_worker = {worker or "": int(count) for worker, count in per_worker}
    load.lease_expired = int(session.exec(select(func.count()).where(
        Run.status == "running", col(Run.lease_until).is_not(None), col(Run.lease_until) < utcnow())).one() or 0)
    for tenant_id in list_tenant_ids(session):
        rows = session.exec(select(Run.duration_ms, Run.first_chunk_ms)
                            .where(Run.tenant_id == tenant_id, Run.started_at >= since,
                                   col(Run.status).in_(FINISHED))
                            .order_by(col(Run.started_at).desc()).limit(per_tenant)).all()
        load.durations_ms += [float(d) for d, _ in rows if d is not None]
        load.first_chunk_ms += [float(f) for _, f in rows if f is not None]
    return load
