"""Evaluations: datasets, cases, evaluation runs and scores (issue 22).

Tables of this area (SQLModel, ``table=True``); migration 0008 creates them. Every row carries
``tenant_id``; a case, an evaluation and its results go with their dataset (``ON DELETE CASCADE``).
A result keeps the case's message and expected text as they were when it ran, so editing a
case later never rewrites what an old evaluation showed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..models import ID_LEN, _json, _ts


def _list() -> Any:
    return Field(default_factory=list, sa_type=JSON, nullable=False)


class EvalDataset(SQLModel, table=True):
    """A named set of cases and the scorers every evaluation of it applies."""

    __tablename__ = "eval_datasets"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "name", name="uq_eval_dataset_name"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    scorers: list[dict[str, Any]] = _list()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class EvalCase(SQLModel, table=True):
    """One known input (message, earlier turns, extra inputs) and what should come back."""

    __tablename__ = "eval_cases"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "dataset_id"], ["eval_datasets.tenant_id", "eval_datasets.id"],
                             ondelete="CASCADE"),
        Index("ix_eval_cases_dataset_position", "tenant_id", "dataset_id", "position"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    dataset_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    position: int = 0
    message: str = Field(sa_type=Text)
    history: list[dict[str, Any]] = _list()
    inputs: dict[str, Any] = _json()
    expected: str | None = Field(default=None, sa_type=Text)
    properties: dict[str, Any] = _json()
    source_run_id: str | None = Field(default=None, max_length=ID_LEN)  # captured from this run (History)
    created_at: datetime = _ts()


class Evaluation(SQLModel, table=True):
    """One run of a dataset through one or more versions of a flow."""

    __tablename__ = "evaluations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "dataset_id"], ["eval_datasets.tenant_id", "eval_datasets.id"],
                             ondelete="CASCADE"),
        Index("ix_evaluations_tenant_created", "tenant_id", "created_at"),
        Index("ix_evaluations_dataset", "tenant_id", "dataset_id"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    dataset_id: str = Field(max_length=ID_LEN)
    flow_id: str = Field(max_length=ID_LEN)
    versions: list[int] = _list()
    baseline: int | None = None
    status: str = Field(default="running", max_length=16)  # running | finished | failed | cancelled | interrupted
    concurrency: int = 4
    use_cache: bool = True
    scorers: list[dict[str, Any]] = _list()  # the dataset's scorers when it started
    total: int = 0  # case runs to do (cases x versions)
    done: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    heartbeat_at: datetime | None = _ts(nullable=True)  # the running process's last sign of life
    finished_at: datetime | None = _ts(nullable=True)


class EvalResult(SQLModel, table=True):
    """One case run on one version: its run, answer, timings, tokens and every scorer's score."""

    __tablename__ = "eval_results"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "evaluation_id"], ["evaluations.tenant_id", "evaluations.id"],
                             ondelete="CASCADE"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    evaluation_id: str = Field(primary_key=True, max_length=ID_LEN)
    case_id: str = Field(primary_key=True, max_length=ID_LEN)
    version: int = Field(primary_key=True)
    position: int = 0
    run_id: str | None = Field(default=None, max_length=ID_LEN)
    message: str = Field(default="", sa_type=Text)
    expected: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="succeeded", max_length=16)
    text: str = Field(default="", sa_type=Text)
    output: dict[str, Any] | None = _json(nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    scores: dict[str, Any] = _json()  # scorer name -> {value, passed, detail}
    passed: bool = False
    duration_ms: float | None = None
    first_chunk_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    created_at: datetime = _ts()


__all__ = ["EvalCase", "EvalDataset", "EvalResult", "Evaluation"]
