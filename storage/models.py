"""The tables (SQLModel); ``storage/migrations`` creates them, and a test checks the two agree.

Every row that belongs to a tenant carries ``tenant_id``; repositories filter on it.
High-volume rows (runs, metrics, messages) carry it without a foreign key so the hot path
never fails because a tenant row is missing; management rows reference ``tenants``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .types import BigIntKey, UTCDateTime, utcnow

ID_LEN = 64


def _ts(nullable: bool = False) -> Any:
    return Field(default_factory=utcnow if not nullable else None, sa_type=UTCDateTime, nullable=nullable)


def _json(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=JSON, nullable=True)
    return Field(default_factory=dict, sa_type=JSON, nullable=False)


# --- tenants ---------------------------------------------------------------------------------
class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(default="", max_length=200)
    created_at: datetime = _ts()


# --- flows and immutable versions ------------------------------------------------------------
class Flow(SQLModel, table=True):
    """A flow's identity and the pointer to its current version."""

    __tablename__ = "flows"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(default="", max_length=200)
    current_version: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class FlowVersion(SQLModel, table=True):
    """One saved document; never updated after insert."""

    __tablename__ = "flow_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "flow_id"], ["flows.tenant_id", "flows.id"], ondelete="CASCADE"
        ),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    flow_id: str = Field(primary_key=True, max_length=ID_LEN)
    version: int = Field(primary_key=True)
    document: dict[str, Any] = _json()
    comment: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()


# --- runs ------------------------------------------------------------------------------------
class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_started", "tenant_id", "started_at"),
        Index("ix_runs_tenant_flow", "tenant_id", "flow_id"),
        Index("ix_runs_status_lease", "status", "lease_until"),
        Index("ix_runs_tenant_experiment", "tenant_id", "experiment_id"),
        Index("ix_runs_tenant_evaluation", "tenant_id", "evaluation_id"),
    )

    id: str = Field(primary_key=True, max_length=ID_LEN)
    tenant_id: str = Field(max_length=ID_LEN)
    flow_id: str = Field(max_length=ID_LEN)
    flow_version: int | None = None
    session_id: str = Field(default="", max_length=200)
    status: str = Field(default="running", max_length=16)  # queued|running|succeeded|failed|cancelled
    inputs: dict[str, Any] = _json()
    output: dict[str, Any] | None = _json(nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    duration_ms: float | None = None
    first_chunk_ms: float | None = None  # time to the first streamed chunk, the felt latency
    timings: dict[str, Any] = _json()  # node_id -> duration_ms
    tokens_in: int = 0
    tokens_out: int = 0
    trace_id: str | None = Field(default=None, max_length=32)  # OpenTelemetry trace id (32 hex); None untraced
    # durable runs (queue mode): the worker holding the run, its lease and heartbeat, attempts so far
    worker: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = _ts(nullable=True)
    heartbeat_at: datetime | None = _ts(nullable=True)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # what the run belongs to: an experiment's variant (A/B tests), an evaluation
    experiment_id: str | None = Field(default=None, max_length=ID_LEN)
    variant: str | None = Field(default=None, max_length=ID_LEN)
    evaluation_id: str | None = Field(default=None, max_length=ID_LEN)


# --- node metrics ----------------------------------------------------------------------------
class NodeMetric(SQLModel, table=True):
    """One node execution. ``ix_tfm_tenant_created`` covers the dashboard query: an index-only scan."""

    __tablename__ = "tenant_flow_metrics"
    __table_args__ = (
        Index("ix_tfm_tenant_created", "tenant_id", "created_at", "node_type", "duration_ms", "cache", "status"),
        Index("ix_tfm_tenant_run", "tenant_id", "run_id"),
        Index("ix_tfm_tenant_experiment", "tenant_id", "experiment_id", "variant", "cache"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    tenant_id: str = Field(max_length=ID_LEN)
    flow_id: str = Field(max_length=ID_LEN)
    run_id: str = Field(max_length=ID_LEN)
    node_id: str = Field(max_length=ID_LEN)
    node_type: str = Field(max_length=100)
    duration_ms: float
    cache: str = Field(default="off", max_length=8)  # hit | miss | off
    status: str = Field(default="succeeded", max_length=16)
    tokens_in: int = 0
    tokens_out: int = 0
    created_at: datetime = _ts()
    # the run's experiment and variant (A/B tests, migration 0007); None outside an experiment
    experiment_id: str | None = Field(default=None, max_length=ID_LEN)
    variant: str | None = Field(default=None, max_length=ID_LEN)


# --- conversation messages -------------------------------------------------------------------
class Message(SQLModel, table=True):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "session_id", "seq", name="uq_message_seq"),
        # A retried save of one run's user/assistant message is a no-op even if it picked a new
        # seq; rows without a run_id are not constrained (NULLs are distinct on both databases).
        UniqueConstraint("tenant_id", "session_id", "run_id", "role", name="uq_message_run_role"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntKey)
    tenant_id: str = Field(max_length=ID_LEN)
    session_id: str = Field(max_length=200)
    seq: int
    role: str = Field(max_length=16)
    content: str = Field(sa_type=Text)
    run_id: str | None = Field(default=None, max_length=ID_LEN)
    created_at: datetime = _ts()


# --- products (the demo catalogue, editable) -------------------------------------------------
class Product(SQLModel, table=True):
    """``data`` is the product as the catalogue gives it; name and category are copied out
    so SQL can filter on them."""

    __tablename__ = "products"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_products_tenant_category", "tenant_id", "category"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(default="", max_length=300)
    category: str | None = Field(default=None, max_length=100)
    data: dict[str, Any] = _json()
    position: int = 0  # catalogue order, so search ties break as in the demo file
    updated_at: datetime = _ts()


# --- credentials (secrets encrypted at rest) -------------------------------------------------
class Credential(SQLModel, table=True):
    __tablename__ = "credentials"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(primary_key=True, max_length=100)
    provider: str = Field(max_length=50)
    secret_encrypted: str = Field(sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# --- API tokens (stored hashed) --------------------------------------------------------------
class ApiToken(SQLModel, table=True):
    """``id`` is the public prefix printed in the token; ``token_hash`` is sha256 of it all."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_api_tokens_tenant", "tenant_id"),
    )

    id: str = Field(primary_key=True, max_length=32)
    tenant_id: str = Field(max_length=ID_LEN)
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


# --- users (argon2 password hashes) ----------------------------------------------------------
class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "username", name="uq_user_tenant_username"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=ID_LEN)
    username: str = Field(max_length=100)
    password_hash: str = Field(max_length=200)
    created_at: datetime = _ts()


# --- editor sessions (server-side records behind the signed cookie) -------------------------
class EditorSession(SQLModel, table=True):
    """One signed-in browser. ``id`` is public (listed, revoked by it); the cookie also carries
    a secret stored here only as sha256. Deleting the user deletes its sessions."""

    __tablename__ = "editor_sessions"
    __table_args__ = (
        ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        Index("ix_editor_sessions_user", "user_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    secret_hash: str = Field(max_length=64)
    user_id: int
    tenant_id: str = Field(max_length=ID_LEN)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = _ts(nullable=True)
    user_agent: str = Field(default="", max_length=300)
    address: str = Field(default="", max_length=64)


__all__ = [
    "ApiToken",
    "Credential",
    "EditorSession",
    "Flow",
    "FlowVersion",
    "Message",
    "NodeMetric",
    "Product",
    "Run",
    "Tenant",
    "User",
]


# The later feature areas keep their tables in storage/tables/ (one module an area); importing
# it here means whoever imports the models has every table registered.
from . import tables  # noqa: E402, F401 - after the core tables the areas build on; registers them
