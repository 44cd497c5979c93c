"""Request and response bodies of the experiments API (A/B tests, issue 17) and run feedback."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from editor.services.experiment_report import Analysis
from editor.services.experiments import METRICS, ExperimentInfo, FeedbackInfo

from .models import Strict

Name = Field(min_length=1, max_length=64)
PrimaryMetric = Literal["first_chunk_ms", "duration_ms", "error_rate", "positive_feedback"]
assert set(METRICS) == set(PrimaryMetric.__args__)  # type: ignore[attr-defined]  # Literal's members, checked once at import


class VariantIn(Strict):
    name: str = Name
    version: int = Field(ge=1, le=2**31 - 1, description="A saved version of the flow.")
    weight: int = Field(ge=0, le=100, description="Share of new sessions in percent; the weights add up to 100.")
    flow_id: str | None = Field(None, max_length=64,
                                description="Another flow of the tenant (default: the experiment's).")


class ExperimentCreate(Strict):
    flow_id: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=200)
    variants: list[VariantIn] = Field(min_length=2, max_length=10, description="The first is the control.")
    primary_metric: PrimaryMetric = "first_chunk_ms"
    min_runs: int = Field(1000, ge=10, le=10_000_000, description="Planned runs per variant before any verdict.")
    start: bool = Field(False, description="Start routing new sessions at once.")


class WeightsIn(Strict):
    weights: dict[str, int] = Field(description="Variant name -> percent; every variant, adding up to 100.")


class PromoteIn(Strict):
    variant: str = Name


class FeedbackIn(Strict):
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class VariantOut(BaseModel):
    name: str
    flow_id: str
    version: int
    weight: int


class ExperimentOut(BaseModel):
    id: str
    flow_id: str
    name: str
    status: str
    primary_metric: str
    min_runs: int
    winner: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    variants: list[VariantOut]

    @classmethod
    def of(cls, info: ExperimentInfo) -> ExperimentOut:
        return cls(id=info.id, flow_id=info.flow_id, name=info.name, status=info.status,
                   primary_metric=info.primary_metric, min_runs=info.min_runs, winner=info.winner,
                   created_at=info.created_at, started_at=info.started_at, ended_at=info.ended_at,
                   variants=[VariantOut(**asdict(v)) for v in info.variants])


class IntervalOut(BaseModel):
    estimate: float
    low: float
    high: float


class ComparisonOut(BaseModel):
    metric: str
    difference: IntervalOut | None = Field(description="Variant minus control: ms for latencies, a fraction for rates.")
    significant: bool
    better: bool | None


class VariantResultOut(BaseModel):
    name: str
    flow_id: str
    version: int
    weight: int
    is_control: bool
    sessions: int
    runs: int
    finished: int
    error_rate: IntervalOut | None
    first_chunk_p50: float | None
    first_chunk_p95: float | None
    duration_p50: float | None
    duration_p95: float | None
    tokens_per_run: float | None
    cache_hit_rate: IntervalOut | None
    positive_feedback: IntervalOut | None
    feedback_count: int
    sample: int
    more_needed: int
    comparisons: dict[str, ComparisonOut]
    verdict: str


class AnalysisOut(BaseModel):
    experiment: ExperimentOut
    variants: list[VariantResultOut]
    alpha: float
    ready: bool
    winner: str | None
    notes: list[str]

    @classmethod
    def of(cls, analysis: Analysis) -> AnalysisOut:
        return cls(experiment=ExperimentOut.of(analysis.experiment),
                   variants=[VariantResultOut.model_validate(asdict(v)) for v in analysis.variants],
                   alpha=analysis.alpha, ready=analysis.ready, winner=analysis.winner, notes=analysis.notes)


class FeedbackOut(BaseModel):
    run_id: str
    rating: Literal["up", "down"]
    comment: str | None
    updated_at: datetime

    @classmethod
    def of(cls, info: FeedbackInfo) -> FeedbackOut:
        return cls(run_id=info.run_id, rating="up" if info.rating > 0 else "down", comment=info.comment,
                   updated_at=info.updated_at)
