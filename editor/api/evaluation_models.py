"""Request and response bodies of the evaluation routes (``editor/api/evaluations.py``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from editor.services.datasets import DatasetSummary
from editor.services.evaluations import EvaluationReport
from runtime.evals.cases import Turn
from storage.tables.evaluations import EvalCase, EvalDataset, Evaluation


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    scorers: list[dict[str, Any]] = Field(default_factory=list, description="Scorer specs (docs/evaluations.md).")


class DatasetPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    scorers: list[dict[str, Any]] | None = None


class CaseIn(BaseModel):
    message: str = Field(min_length=1)
    history: list[Turn] = Field(default_factory=list)
    inputs: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, max_length=64)


class CaseOut(CaseIn):
    source_run_id: str | None = None

    @classmethod
    def of(cls, row: EvalCase) -> CaseOut:
        return cls(id=row.id, message=row.message, history=[Turn.model_validate(t) for t in row.history],
                   inputs=row.inputs, expected=row.expected, properties=row.properties,
                   source_run_id=row.source_run_id)


class DatasetOut(BaseModel):
    id: str
    name: str
    description: str
    scorers: list[dict[str, Any]]
    cases: int
    updated_at: datetime

    @classmethod
    def of(cls, row: EvalDataset, cases: int) -> DatasetOut:
        return cls(id=row.id, name=row.name, description=row.description, scorers=list(row.scorers), cases=cases,
                   updated_at=row.updated_at)

    @classmethod
    def of_summary(cls, summary: DatasetSummary) -> DatasetOut:
        return cls.of(summary.dataset, summary.cases)


class DatasetDetail(BaseModel):
    dataset: DatasetOut
    cases: list[CaseOut]


class ImportOut(BaseModel):
    dataset: DatasetOut
    imported: int


class EvaluationIn(BaseModel):
    dataset: str = Field(min_length=1, max_length=200, description="The dataset's id or name.")
    flow_id: str = Field(min_length=1, max_length=64)
    versions: list[int] | None = Field(None, description="Stored versions to run (default: the current one).")
    baseline: int | None = Field(None, description="The version the others are compared with (default: the first).")
    concurrency: int = Field(4, ge=1, le=64, description="Case runs at once, across all versions.")
    use_cache: bool = Field(True, description="False: no node's answer comes from or goes into the cache.")


class EvaluationOut(BaseModel):
    id: str
    dataset_id: str
    flow_id: str
    versions: list[int]
    baseline: int | None
    status: str
    done: int
    total: int
    concurrency: int
    use_cache: bool
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Evaluation) -> EvaluationOut:
        return cls.model_validate(row, from_attributes=True)


class ResultOut(BaseModel):
    version: int
    run_id: str | None
    status: str
    passed: bool
    text: str
    error: str | None
    scores: dict[str, Any]
    duration_ms: float | None
    first_chunk_ms: float | None
    tokens_in: int
    tokens_out: int


class CaseRowOut(BaseModel):
    case_id: str
    message: str
    expected: str | None
    changed: bool
    results: list[ResultOut]


class ReportOut(BaseModel):
    evaluation: EvaluationOut
    dataset: str
    baseline: int
    versions: list[dict[str, Any]] = Field(description="Per version: pass rate, each scorer's mean and pass rate, "
                                                       "duration and first-chunk p50/p95, tokens.")
    comparisons: list[dict[str, Any]] = Field(description="Each version against the baseline: cases changed, "
                                                          "regressed, fixed.")
    cases: list[CaseRowOut]

    @classmethod
    def of(cls, report: EvaluationReport, changed_only: bool = False) -> ReportOut:
        return cls.model_validate(report.to_dict(changed_only))
