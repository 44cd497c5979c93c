"""Request and response bodies. Requests forbid extra fields: a ``tenant_id`` in a body is
refused (422), the tenant always comes from the credential."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


class FlowVersionInfo(BaseModel):
    version: int
    comment: str | None = None
    created_at: datetime


class ProblemOut(BaseModel):
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
