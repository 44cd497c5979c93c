"""Request and response bodies. Requests forbid extra fields: a ``tenant_id`` in a body is
refused (422), the tenant always comes from the credential."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from editor.api.errors import encodable
from editor.services import flows
from runtime.engine.result import RunResult
from runtime.errors import Problem
from storage.models import Run


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(Strict):
    inputs: dict[str, Any] = Field(default_factory=dict, description="Run inputs (user_message, ...).")
    session_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,128}$",
        description="Conversation id; the run streams on channel tenant.<tenant>.conversation.<session_id>.",
    )
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="A stored version (default: the current one).")

    @field_validator("inputs")
    @classmethod
    def _no_tenant(cls, inputs: dict[str, Any]) -> dict[str, Any]:
        for name in ("tenant_id", "run_id"):
            if name in inputs:
                raise ValueError(f"inputs must not contain {name!r}: the tenant comes from the credential")
        return inputs


class CacheEventRequest(Strict):
    event: str = Field(min_length=1, max_length=200, description="Event name, e.g. product.updated.")


class CacheEventResponse(BaseModel):
    event: str
    tags_cleared: list[str]


class FlowSummary(BaseModel):
    flow_id: str
    name: str
    current_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, flow: flows.FlowSummary) -> FlowSummary:
        return cls(flow_id=flow.id, name=encodable(flow.name), current_version=flow.version,
                   created_at=flow.created_at, updated_at=flow.updated_at)


class FlowVersionInfo(BaseModel):
    version: int
    comment: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, info: flows.VersionInfo) -> FlowVersionInfo:
        return cls(version=info.version, comment=encodable(info.comment) or None, created_at=info.created_at)


class ProblemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    message: str
    node_id: str | None = None
    edge: list[str] | None = None
    group_id: str | None = None
    field: str | None = None


class FlowProblemsOut(BaseModel):
    """422 of a flow that cannot be saved or run: what to fix, each problem naming node and field."""

    detail: str | list[dict[str, Any]]
    problems: list[ProblemOut] = Field(default_factory=list)


class FlowOut(FlowSummary):
    document: dict[str, Any]
    problems: list[ProblemOut] = Field(default_factory=list, description="What must be fixed before it can run.")
    warnings: list[ProblemOut] = Field(default_factory=list, description=(
        "Wiring that runs but probably not as meant (docs/validation.md): never blocks a save or a run."))

    @classmethod
    def of_stored(cls, stored: flows.StoredFlow, warnings: Sequence[Problem] = ()) -> FlowOut:
        return cls(flow_id=stored.flow_id, name=encodable(stored.name), current_version=stored.current_version,
                   created_at=stored.created_at, updated_at=stored.updated_at, document=stored.document.dump(),
                   problems=[ProblemOut.model_validate(p) for p in stored.problems],
                   warnings=[ProblemOut.model_validate(p) for p in warnings])


class RunOut(BaseModel):
    run_id: str
    flow_id: str
    status: str
    answer: str = ""
    output: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    failed_node: str | None = None
    total_ms: float | None = None
    first_chunk_ms: float | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    channel: str | None = None
    nodes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    relay: str | None = Field(None, description=(
        "Could subscribers in other processes follow the run live? ok; degraded (Redis was not"
        " answering: the run went on and this result is complete, but a subscriber elsewhere may"
        " have seen only part of it); off (no channel hub)."))


    @classmethod
    def of(cls, result: RunResult, flow_id: str, channel: str, relay: str | None) -> RunOut:
        return cls(run_id=result.run_id, flow_id=flow_id, status=result.status, answer=result.answer,
                   output=result.output, error=result.error, failed_node=result.failed_node,
                   total_ms=result.total_ms, first_chunk_ms=result.first_chunk_ms, usage=result.usage,
                   channel=channel, nodes={node_id: asdict(timing) for node_id, timing in (result.nodes or {}).items()},
                   relay=relay)


class CancelOut(BaseModel):
    run_id: str
    cancelled: bool


class StoredRun(BaseModel):
    run_id: str
    flow_id: str
    flow_version: int | None = None
    session_id: str = ""
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: float | None = None
    first_chunk_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    trace_id: str | None = None  # the run's OpenTelemetry trace (32 hex); None when it was not traced
    experiment_id: str | None = None  # the A/B test the run belonged to, and its variant (issue 17)
    variant: str | None = None

    @classmethod
    def of(cls, row: Run) -> StoredRun:
        return cls(run_id=row.id, flow_id=row.flow_id, flow_version=row.flow_version, session_id=row.session_id,
                   status=row.status, output=row.output, error=row.error, started_at=row.started_at,
                   finished_at=row.finished_at, duration_ms=row.duration_ms, first_chunk_ms=row.first_chunk_ms,
                   tokens_in=row.tokens_in, tokens_out=row.tokens_out, trace_id=row.trace_id,
                   experiment_id=row.experiment_id, variant=row.variant)


class MetricRowOut(BaseModel):
    key: str
    avg_ms: float
    count: int
    max_ms: float
    cache_hit_rate: float
    failures: int


class MetricsOut(BaseModel):
    since: datetime
    until: datetime
    by: str
    flow_id: str | None = None
    rows: list[MetricRowOut]
