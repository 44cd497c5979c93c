"""Per-node records of runs, for inspection (issue 18: the debugging loop).

``run_nodes``: one row per node of a recorded run: the values it read, its config as rendered,
its output (secrets masked, large values folded: ``folded`` says something was left out), the
cache's answer with its key and TTL, attempts, tokens, duration and error. Written with the
run's row in one transaction (``storage.repos.node_runs.record_run_with_nodes``); migration 0010
creates it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from storage.models import ID_LEN, _json, _ts


class RunNode(SQLModel, table=True):
    __tablename__ = "run_nodes"
    __table_args__ = (Index("ix_run_nodes_tenant_run", "tenant_id", "run_id"),)

    run_id: str = Field(primary_key=True, max_length=ID_LEN)
    node_id: str = Field(primary_key=True, max_length=ID_LEN)
    tenant_id: str = Field(max_length=ID_LEN)
    node_type: str = Field(max_length=ID_LEN)
    position: int = 0  # start order within the run
    status: str = Field(max_length=16)
    start_ms: float = 0.0
    duration_ms: float = 0.0
    inputs: dict[str, Any] = _json()
    config: dict[str, Any] | None = _json(nullable=True)
    output: dict[str, Any] | None = _json(nullable=True)
    text: str | None = Field(default=None, sa_type=Text)  # a streaming node's answer
    folded: bool = False  # a value was cut or left out: it cannot stand in for the original
    cache: str = Field(default="off", max_length=16)  # hit | miss | off | reused
    cache_key: str | None = Field(default=None, max_length=255)
    cache_ttl: int | None = None
    attempts: int = 1
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
