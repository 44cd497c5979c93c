"""Durable runs: per-node checkpoints of queued runs (issue 14).

Tables of this area (SQLModel, ``table=True``); migration 0006 creates them.

``run_requests``: what a worker needs to execute a queued run that the run row does not hold
(the flow document as it was started, the channel cursor its events start after, the caller's
trace headers). ``run_checkpoints``: one row per node that finished, so a worker taking the run
over after its holder died skips it (run id + node id is also the node's idempotency key)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from storage.models import ID_LEN, _json, _ts


class RunRequest(SQLModel, table=True):
    __tablename__ = "run_requests"

    run_id: str = Field(primary_key=True, max_length=ID_LEN)
    tenant_id: str = Field(max_length=ID_LEN)
    document: dict[str, Any] = _json()
    start_cursor: int = 0
    trace_parent: dict[str, Any] = _json()
    created_at: datetime = _ts()


class RunCheckpoint(SQLModel, table=True):
    __tablename__ = "run_checkpoints"

    run_id: str = Field(primary_key=True, max_length=ID_LEN)
    node_id: str = Field(primary_key=True, max_length=ID_LEN)
    tenant_id: str = Field(max_length=ID_LEN)
    output: dict[str, Any] = _json()
    text: str | None = Field(default=None, sa_type=Text)  # a streaming node's answer
    attempt: int = 1
    created_at: datetime = _ts()
