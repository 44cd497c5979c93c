"""Publishable keys: what lets a web page's chat widget run one flow of a tenant (issue 18).

Tables of this area (SQLModel, ``table=True``); migration 0011 creates them.

A key reads ``akispub_<id>_<secret>``; ``id`` is the row key (safe to show and log), ``key_hash``
is sha256 of the whole key (random, 256 bits: a fast hash is right, as for API tokens). A key
runs ``flow_id`` only, from a page whose Origin is on ``allowed_origins``, at most
``rate_per_minute`` runs a minute for each visitor address."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from storage.models import ID_LEN, _ts


class PublishableKey(SQLModel, table=True):
    __tablename__ = "publishable_keys"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index("ix_publishable_keys_tenant_flow", "tenant_id", "flow_id"),
    )

    id: str = Field(primary_key=True, max_length=32)
    tenant_id: str = Field(max_length=ID_LEN)
    flow_id: str = Field(max_length=ID_LEN)
    name: str = Field(default="", max_length=100)
    key_hash: str = Field(max_length=64)
    allowed_origins: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    rate_per_minute: int = 20
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)
