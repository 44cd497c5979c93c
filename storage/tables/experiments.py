"""A/B testing: experiments, their variants, sticky session assignments and run feedback (issue 17).

Tables of this area (SQLModel, ``table=True``); migration 0007 creates them. Runs and node
metric rows carry ``experiment_id``/``variant`` themselves (the ``runs`` and
``tenant_flow_metrics`` tables), so the analysis is one grouped query over them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, Text
from sqlmodel import Field, SQLModel

from ..models import ID_LEN, _ts


class Experiment(SQLModel, table=True):
    """An A/B test on one flow. ``status``: draft | running | paused | stopped | promoted."""

    __tablename__ = "experiments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_experiments_tenant_flow", "tenant_id", "flow_id", "status"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    flow_id: str = Field(max_length=ID_LEN)
    name: str = Field(default="", max_length=200)
    status: str = Field(default="draft", max_length=16)
    primary_metric: str = Field(default="first_chunk_ms", max_length=32)
    min_runs: int = 1000  # the planned sample per variant; no winner is called before it
    winner: str | None = Field(default=None, max_length=ID_LEN)  # the promoted variant
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    ended_at: datetime | None = _ts(nullable=True)


class ExperimentVariant(SQLModel, table=True):
    """One arm: a version of the experiment's flow (or of another flow of the tenant) and its
    share of new sessions in percent. Position 0 is the control."""

    __tablename__ = "experiment_variants"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "experiment_id"], ["experiments.tenant_id", "experiments.id"],
                             ondelete="CASCADE"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    experiment_id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(primary_key=True, max_length=ID_LEN)
    position: int = 0
    flow_id: str = Field(max_length=ID_LEN)
    version: int
    weight: int = 0


class ExperimentAssignment(SQLModel, table=True):
    """The variant a session got on its first run, so it keeps it when the weights change.
    ``counted`` is False for a session first seen while the experiment was paused: it runs the
    control and stays out of the analysis."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "experiment_id"], ["experiments.tenant_id", "experiments.id"],
                             ondelete="CASCADE"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    experiment_id: str = Field(primary_key=True, max_length=ID_LEN)
    session_id: str = Field(primary_key=True, max_length=200)
    variant: str = Field(max_length=ID_LEN)
    counted: bool = True
    created_at: datetime = _ts()


class RunFeedback(SQLModel, table=True):
    """A user's thumbs up (+1) or down (-1) on one run, with an optional comment; the last one given counts."""

    __tablename__ = "run_feedback"

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    run_id: str = Field(primary_key=True, max_length=ID_LEN)
    rating: int
    comment: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


__all__ = ["Experiment", "ExperimentAssignment", "ExperimentVariant", "RunFeedback"]
