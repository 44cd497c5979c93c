"""Experiments (A/B tests), sticky assignments, run feedback, and the per-variant aggregates the
analysis reads: every figure is grouped in SQL, latencies as 1 ms histograms (issue 17)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ..models import Flow, FlowVersion, NodeMetric, Run
from ..tables.experiments import Experiment, ExperimentAssignment, ExperimentVariant, RunFeedback
from ..types import utcnow
from ._common import insert_ignore, tenant_key

LIVE = ("running", "paused")


def add_experiment(session: Session, experiment: Experiment, variants: Sequence[ExperimentVariant]) -> None:
    session.add(experiment)
    session.flush()
    session.add_all(variants)
    session.flush()


def get_experiment(session: Session, tenant_id: str, experiment_id: str) -> Experiment | None:
    return session.get(Experiment, (tenant_key(tenant_id), experiment_id))


def variants_of(session: Session, tenant_id: str, experiment_id: str) -> list[ExperimentVariant]:
    query = (select(ExperimentVariant)
             .where(ExperimentVariant.tenant_id == tenant_key(tenant_id),
                    ExperimentVariant.experiment_id == experiment_id)
             .order_by(col(ExperimentVariant.position)))
    return list(session.exec(query))


def list_experiments(session: Session, tenant_id: str, flow_id: str | None = None) -> list[Experiment]:
    query = select(Experiment).where(Experiment.tenant_id == tenant_key(tenant_id))
    if flow_id is not None:
        query = query.where(Experiment.flow_id == flow_id)
    return list(session.exec(query.order_by(col(Experiment.created_at).desc())))


def live_on_flow(session: Session, tenant_id: str, flow_id: str) -> Experiment | None:
    """The flow's running or paused experiment (at most one), or None."""
    query = select(Experiment).where(Experiment.tenant_id == tenant_key(tenant_id), Experiment.flow_id == flow_id,
                                     col(Experiment.status).in_(LIVE))
    return session.exec(query).first()


def flows_with_running(session: Session, tenant_id: str) -> dict[str, str]:
    """flow id -> experiment id for the tenant's flows with a running or paused experiment."""
    query = select(Experiment.flow_id, Experiment.id).where(Experiment.tenant_id == tenant_key(tenant_id),
                                                            col(Experiment.status).in_(LIVE))
    return {str(flow): str(experiment) for flow, experiment in session.exec(query).all()}


def version_exists(session: Session, tenant_id: str, flow_id: str, version: int) -> bool:
    return session.get(FlowVersion, (tenant_key(tenant_id), flow_id, version)) is not None


def flow_exists(session: Session, tenant_id: str, flow_id: str) -> bool:
    return session.get(Flow, (tenant_key(tenant_id), flow_id)) is not None


def set_status(session: Session, tenant_id: str, experiment_id: str, status: str, *,
               winner: str | None = None) -> Experiment | None:
    row = get_experiment(session, tenant_id, experiment_id)
    if row is None:
        return None
    now = utcnow()
    row.status = status
    if status == "running" and row.started_at is None:
        row.started_at = now
    if status in ("stopped", "promoted"):
        row.ended_at = now
        row.winner = winner
    session.add(row)
    session.flush()
    return row


def set_weights(session: Session, tenant_id: str, experiment_id: str, weights: dict[str, int]) -> None:
    for variant in variants_of(session, tenant_id, experiment_id):
        variant.weight = weights[variant.name]
        session.add(variant)
    session.flush()


def assign(session: Session, tenant_id: str, experiment_id: str, session_id: str, variant: str,
           counted: bool) -> tuple[str, bool]:
    """The session's variant: the stored one, else ``variant`` stored now. Two instances racing on a
    new session both read back the one row that won."""
    tenant = tenant_key(tenant_id)
    key = (tenant, experiment_id, session_id)
    row = session.get(ExperimentAssignment, key)
    if row is None:
        insert_ignore(session, ExperimentAssignment, {"tenant_id": tenant, "experiment_id": experiment_id,
                                                      "session_id": session_id, "variant": variant,
                                                      "counted": counted, "created_at": utcnow()})
        row = session.get(ExperimentAssignment, key)
    assert row is not None
    return row.variant, row.counted


def sessions_per_variant(session: Session, tenant_id: str, experiment_id: str) -> dict[str, int]:
    query = (sa_select(col(ExperimentAssignment.variant), func.count())
             .where(col(ExperimentAssignment.tenant_id) == tenant_key(tenant_id),
                    col(ExperimentAssignment.experiment_id) == experiment_id, col(ExperimentAssignment.counted))
             .group_by(col(ExperimentAssignment.variant)))
    return {str(variant): int(count) for variant, count in session.execute(query)}


def delete_experiment(session: Session, tenant_id: str, experiment_id: str) -> bool:
    result = session.execute(delete(Experiment).where(col(Experiment.tenant_id) == tenant_key(tenant_id),
                                                      col(Experiment.id) == experiment_id))
    return bool(getattr(result, "rowcount", 0))


# --- feedback --------------------------------------------------------------------------------
def run_exists(session: Session, tenant_id: str, run_id: str, flow_id: str | None = None,
               session_id: str | None = None) -> bool:
    """The tenant's run; with ``flow_id``, a run of that flow or of a variant in that flow's experiment
    (another flow's version), and with ``session_id``, a run of that session (a widget visitor's own)."""
    row = session.get(Run, run_id)
    if row is None or row.tenant_id != tenant_key(tenant_id):
        return False
    if session_id is not None and row.session_id != session_id:
        return False
    if flow_id is None or row.flow_id == flow_id:
        return True
    experiment = get_experiment(session, tenant_id, row.experiment_id) if row.experiment_id else None
    return experiment is not None and experiment.flow_id == flow_id


def put_feedback(session: Session, tenant_id: str, run_id: str, rating: int, comment: str | None) -> RunFeedback:
    """Store (or replace) the run's feedback: the last thumbs given counts."""
    tenant = tenant_key(tenant_id)
    now = utcnow()
    row = session.get(RunFeedback, (tenant, run_id))
    if row is None:
        insert_ignore(session, RunFeedback, {"tenant_id": tenant, "run_id": run_id, "rating": rating,
                                             "comment": comment, "created_at": now, "updated_at": now})
        row = session.get(RunFeedback, (tenant, run_id))
        assert row is not None
    row.rating, row.comment, row.updated_at = rating, comment, now
    session.add(row)
    session.flush()
    return row


def get_feedback(session: Session, tenant_id: str, run_id: str) -> RunFeedback | None:
    return session.get(RunFeedback, (tenant_key(tenant_id), run_id))


def feedback_of(session: Session, tenant_id: str, run_ids: list[str]) -> list[RunFeedback]:
    """The feedback on any of these runs of the tenant (one query: a chat's answers at once)."""
    if not run_ids:
        return []
    query = select(RunFeedback).where(RunFeedback.tenant_id == tenant_key(tenant_id),
                                      col(RunFeedback.run_id).in_(run_ids))
    return list(session.exec(query).all())


# --- the analysis's aggregates ---------------------------------------------------------------
@dataclass
class VariantFigures:
    """What SQL counts per variant; the statistics are computed from these in the service."""

    runs: int = 0
    finished: int = 0
    failed: int = 0
    tokens: int = 0
    first_chunk: dict[int, int] = field(default_factory=dict)  # ms (rounded) -> runs
    duration: dict[int, int] = field(default_factory=dict)
    thumbs_up: int = 0
    thumbs_down: int = 0
    cache_hits: int = 0
    cache_lookups: int = 0


def figures(session: Session, tenant_id: str, experiment_id: str) -> dict[str, VariantFigures]:
    """Per variant: run counts, failures, tokens, latency histograms, feedback and cache figures."""
    tenant = tenant_key(tenant_id)
    out: dict[str, VariantFigures] = {}

    def of(variant: Any) -> VariantFigures:
        return out.setdefault(str(variant), VariantFigures())

    mine = (col(Run.tenant_id) == tenant, col(Run.experiment_id) == experiment_id)
    counts = (sa_select(col(Run.variant), func.count(),
                        func.sum(case((col(Run.status).in_(("succeeded", "failed", "cancelled")), 1), else_=0)),
                        func.sum(case((col(Run.status) == "failed", 1), else_=0)),
                        func.sum(col(Run.tokens_in) + col(Run.tokens_out)))
              .where(*mine).group_by(col(Run.variant)))
    for variant, runs, finished, failed, tokens in session.execute(counts):
        entry = of(variant)
        entry.runs, entry.finished, entry.failed, entry.tokens = int(runs), int(finished or 0), int(failed or 0), \
            int(tokens or 0)
    for column, attr in ((col(Run.first_chunk_ms), "first_chunk"), (col(Run.duration_ms), "duration")):
        bucket = cast(func.round(column), Integer)
        query = (sa_select(col(Run.variant), bucket, func.count())
                 .where(*mine, col(column).is_not(None)).group_by(col(Run.variant), bucket))
        for variant, ms, count in session.execute(query):
            getattr(of(variant), attr)[int(ms)] = int(count)
    thumbs = (sa_select(col(Run.variant), col(RunFeedback.rating), func.count())
              .join(RunFeedback, (col(RunFeedback.tenant_id) == col(Run.tenant_id))
                    & (col(RunFeedback.run_id) == col(Run.id)))
              .where(*mine).group_by(col(Run.variant), col(RunFeedback.rating)))
    for variant, rating, count in session.execute(thumbs):
        entry = of(variant)
        if int(rating) > 0:
            entry.thumbs_up += int(count)
        else:
            entry.thumbs_down += int(count)
    hits = func.sum(case((col(NodeMetric.cache) == "hit", 1), else_=0))
    cache = (sa_select(col(NodeMetric.variant), hits, func.count())
             .where(col(NodeMetric.tenant_id) == tenant, col(NodeMetric.experiment_id) == experiment_id,
                    col(NodeMetric.cache) != "off")
             .group_by(col(NodeMetric.variant)))
    for variant, hits, lookups in session.execute(cache):
        entry = of(variant)
        entry.cache_hits, entry.cache_lookups = int(hits or 0), int(lookups)
    return out
