"""Evaluation datasets, their cases, evaluations and their results; every query filters by tenant."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from ..errors import StorageError
from ..tables.evaluations import EvalCase, EvalDataset, EvalResult, Evaluation
from ..types import utcnow
from ._common import jsonable, tenant_key
from .tenants import ensure_tenant


def new_id() -> str:
    return uuid.uuid4().hex[:16]


# --- datasets ---------------------------------------------------------------------------------
def create_dataset(session: Session, tenant_id: str, name: str, description: str = "",
                   scorers: list[dict[str, Any]] | None = None) -> EvalDataset:
    """A new dataset; :class:`StorageError` when the tenant already has one of this name."""
    tenant = tenant_key(tenant_id)
    if find_dataset(session, tenant, name) is not None:
        raise StorageError(f"a dataset named {name!r} already exists")
    ensure_tenant(session, tenant)
    row = EvalDataset(tenant_id=tenant, id=new_id(), name=name, description=description,
                      scorers=jsonable(scorers or []))
    session.add(row)
    session.flush()
    return row


def get_dataset(session: Session, tenant_id: str, dataset_id: str) -> EvalDataset | None:
    return session.get(EvalDataset, (tenant_key(tenant_id), dataset_id))


def find_dataset(session: Session, tenant_id: str, id_or_name: str) -> EvalDataset | None:
    """By id, else by name."""
    found = get_dataset(session, tenant_id, id_or_name)
    if found is not None:
        return found
    query = select(EvalDataset).where(EvalDataset.tenant_id == tenant_key(tenant_id), EvalDataset.name == id_or_name)
    return session.exec(query).first()


def list_datasets(session: Session, tenant_id: str) -> list[tuple[EvalDataset, int]]:
    """Each dataset with its number of cases, by name."""
    tenant = tenant_key(tenant_id)
    counts = dict(session.exec(select(EvalCase.dataset_id, func.count()).where(EvalCase.tenant_id == tenant)
                               .group_by(col(EvalCase.dataset_id))).all())
    rows = session.exec(select(EvalDataset).where(EvalDataset.tenant_id == tenant).order_by(col(EvalDataset.name)))
    return [(row, int(counts.get(row.id, 0))) for row in rows]


def update_dataset(session: Session, tenant_id: str, dataset_id: str, *, name: str | None = None,
                   description: str | None = None, scorers: list[dict[str, Any]] | None = None) -> EvalDataset | None:
    row = get_dataset(session, tenant_id, dataset_id)
    if row is None:
        return None
    if name is not None and name != row.name:
        other = find_dataset(session, tenant_id, name)
        if other is not None and other.id != row.id:
            raise StorageError(f"a dataset named {name!r} already exists")
        row.name = name
    if description is not None:
        row.description = description
    if scorers is not None:
        row.scorers = jsonable(scorers)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_dataset(session: Session, tenant_id: str, dataset_id: str) -> bool:
    """The dataset with its cases, evaluations and results (explicitly: SQLite may not cascade)."""
    tenant = tenant_key(tenant_id)
    row = get_dataset(session, tenant, dataset_id)
    if row is None:
        return False
    evaluations = [e.id for e in session.exec(select(Evaluation).where(Evaluation.tenant_id == tenant,
                                                                       Evaluation.dataset_id == dataset_id))]
    if evaluations:
        session.exec(delete(EvalResult).where(col(EvalResult.tenant_id) == tenant,
                                              col(EvalResult.evaluation_id).in_(evaluations)))
        session.exec(delete(Evaluation).where(col(Evaluation.tenant_id) == tenant, col(Evaluation.id).in_(evaluations)))
    session.exec(delete(EvalCase).where(col(EvalCase.tenant_id) == tenant, col(EvalCase.dataset_id) == dataset_id))
    session.delete(row)
    return True


# --- cases ------------------------------------------------------------------------------------
def list_cases(session: Session, tenant_id: str, dataset_id: str) -> list[EvalCase]:
    query = select(EvalCase).where(EvalCase.tenant_id == tenant_key(tenant_id), EvalCase.dataset_id == dataset_id)
    return list(session.exec(query.order_by(col(EvalCase.position), col(EvalCase.created_at))))


def add_cases(session: Session, tenant_id: str, dataset_id: str, cases: Sequence[dict[str, Any]], *,
              replace: bool = False, source_run_id: str | None = None) -> list[EvalCase]:
    """Append cases (``replace``: instead of the present ones). Each dict is a case's fields
    (:class:`runtime.evals.Case`); a given id already in the dataset is a :class:`StorageError`."""
    tenant = tenant_key(tenant_id)
    if replace:
        session.exec(delete(EvalCase).where(col(EvalCase.tenant_id) == tenant, col(EvalCase.dataset_id) == dataset_id))
        start = 0
    else:
        last = session.exec(select(func.max(EvalCase.position)).where(
            EvalCase.tenant_id == tenant, EvalCase.dataset_id == dataset_id)).first()
        start = (last + 1) if last is not None else 0
    taken = set() if replace else {c.id for c in list_cases(session, tenant, dataset_id)}
    rows = []
    for offset, case in enumerate(cases):
        case_id = case.get("id") or new_id()
        if case_id in taken:
            raise StorageError(f"case id {case_id!r} is already in the dataset")
        taken.add(case_id)
        rows.append(EvalCase(tenant_id=tenant, dataset_id=dataset_id, id=case_id, position=start + offset,
                             message=case["message"], history=jsonable(case.get("history") or []),
                             inputs=jsonable(case.get("inputs") or {}), expected=case.get("expected"),
                             properties=jsonable(case.get("properties") or {}), source_run_id=source_run_id))
    session.add_all(rows)
    session.flush()
    touch_dataset(session, tenant, dataset_id)
    return rows


def update_case(session: Session, tenant_id: str, dataset_id: str, case_id: str,
                values: dict[str, Any]) -> EvalCase | None:
    row = session.get(EvalCase, (tenant_key(tenant_id), dataset_id, case_id))
    if row is None:
        return None
    row.message = values["message"]
    row.history = jsonable(values.get("history") or [])
    row.inputs = jsonable(values.get("inputs") or {})
    row.expected = values.get("expected")
    row.properties = jsonable(values.get("properties") or {})
    session.add(row)
    touch_dataset(session, tenant_id, dataset_id)
    return row


def delete_case(session: Session, tenant_id: str, dataset_id: str, case_id: str) -> bool:
    row = session.get(EvalCase, (tenant_key(tenant_id), dataset_id, case_id))
    if row is None:
        return False
    session.delete(row)
    touch_dataset(session, tenant_id, dataset_id)
    return True


def touch_dataset(session: Session, tenant_id: str, dataset_id: str) -> None:
    row = get_dataset(session, tenant_id, dataset_id)
    if row is not None:
        row.updated_at = utcnow()
        session.add(row)


# --- evaluations ------------------------------------------------------------------------------
def create_evaluation(session: Session, tenant_id: str, dataset_id: str, flow_id: str, versions: list[int], *,
                      baseline: int | None, concurrency: int, use_cache: bool, scorers: list[dict[str, Any]],
                      total: int) -> Evaluation:
    row = Evaluation(tenant_id=tenant_key(tenant_id), id=new_id(), dataset_id=dataset_id, flow_id=str(flow_id),
                     versions=list(versions), baseline=baseline, concurrency=concurrency, use_cache=use_cache,
                     scorers=jsonable(scorers), total=total)
    session.add(row)
    session.flush()
    return row


def get_evaluation(session: Session, tenant_id: str, evaluation_id: str) -> Evaluation | None:
    return session.get(Evaluation, (tenant_key(tenant_id), evaluation_id))


def list_evaluations(session: Session, tenant_id: str, dataset_id: str | None = None,
                     limit: int = 50) -> list[Evaluation]:
    """Newest first."""
    query = select(Evaluation).where(Evaluation.tenant_id == tenant_key(tenant_id))
    if dataset_id is not None:
        query = query.where(Evaluation.dataset_id == dataset_id)
    return list(session.exec(query.order_by(col(Evaluation.created_at).desc()).limit(max(1, min(limit, 500)))))


def set_progress(session: Session, tenant_id: str, evaluation_id: str, done: int | None = None) -> None:
    """The number of case runs done (None: only a heartbeat)."""
    row = get_evaluation(session, tenant_id, evaluation_id)
    if row is not None:
        row.done = max(row.done, done if done is not None else 0)
        row.heartbeat_at = utcnow()
        session.add(row)


def interrupt(session: Session, tenant_id: str, evaluation_id: str, silent_since: datetime) -> Evaluation | None:
    """Mark a running evaluation whose process gave no sign of life since ``silent_since`` as
    interrupted (its process stopped); the row as it is afterwards."""
    row = get_evaluation(session, tenant_id, evaluation_id)
    if row is not None and row.status == "running" and (row.heartbeat_at or row.created_at) < silent_since:
        row.status, row.finished_at = "interrupted", utcnow()
        row.error = "the process running it stopped before it finished; start it again"
        session.add(row)
    return row


def finish_evaluation(session: Session, tenant_id: str, evaluation_id: str, status: str,
                      error: str | None = None, finished_at: datetime | None = None) -> None:
    row = get_evaluation(session, tenant_id, evaluation_id)
    if row is not None:
        row.status, row.error, row.finished_at = status, error, finished_at or utcnow()
        session.add(row)


def save_result(session: Session, tenant_id: str, evaluation_id: str, values: dict[str, Any]) -> None:
    """One case run's result; its columns as :class:`EvalResult` names them (replaces the same case's)."""
    session.merge(_result(tenant_id, evaluation_id, values))


def save_results(session: Session, tenant_id: str, evaluation_id: str, rows: Sequence[dict[str, Any]],
                 done: int) -> None:
    """New results of an evaluation and its progress, in one unit of work."""
    session.add_all([_result(tenant_id, evaluation_id, values) for values in rows])
    set_progress(session, tenant_id, evaluation_id, done)


def _result(tenant_id: str, evaluation_id: str, values: dict[str, Any]) -> EvalResult:
    values = {**values, "output": jsonable(values["output"]) if values.get("output") is not None else None,
              "scores": jsonable(values.get("scores") or {})}
    return EvalResult(tenant_id=tenant_key(tenant_id), evaluation_id=evaluation_id, **values)


def list_results(session: Session, tenant_id: str, evaluation_id: str) -> list[EvalResult]:
    query = select(EvalResult).where(EvalResult.tenant_id == tenant_key(tenant_id),
                                     EvalResult.evaluation_id == evaluation_id)
    return list(session.exec(query.order_by(col(EvalResult.position), col(EvalResult.version))))
