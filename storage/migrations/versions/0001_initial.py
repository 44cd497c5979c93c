"""Initial schema: tenants, flows and versions, runs, metrics, messages, products.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGKEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "flows",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_table(
        "flow_versions",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "flow_id"], ["flows.tenant_id", "flows.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "flow_id", "version"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("first_chunk_ms", sa.Float(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_tenant_started", "runs", ["tenant_id", "started_at"])
    op.create_index("ix_runs_tenant_flow", "runs", ["tenant_id", "flow_id"])
    op.create_table(
        "tenant_flow_metrics",
        sa.Column("id", BIGKEY, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("node_type", sa.String(100), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("cache", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_tfm_tenant_created",
        "tenant_flow_metrics",
        ["tenant_id", "created_at", "node_type", "duration_ms", "cache", "status"],  # covers the dashboard
    )
    op.create_index("ix_tfm_tenant_run", "tenant_flow_metrics", ["tenant_id", "run_id"])
    op.create_table(
        "conversation_messages",
        sa.Column("id", BIGKEY, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "session_id", "seq", name="uq_message_seq"),
        sa.UniqueConstraint("tenant_id", "session_id", "run_id", "role", name="uq_message_run_role"),
    )
    op.create_table(
        "products",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index("ix_products_tenant_category", "products", ["tenant_id", "category"])


def downgrade() -> None:
    op.drop_index("ix_products_tenant_category", table_name="products")
    op.drop_table("products")
    op.drop_table("conversation_messages")
    op.drop_index("ix_tfm_tenant_run", table_name="tenant_flow_metrics")
    op.drop_index("ix_tfm_tenant_created", table_name="tenant_flow_metrics")
    op.drop_table("tenant_flow_metrics")
    op.drop_index("ix_runs_tenant_flow", table_name="runs")
    op.drop_index("ix_runs_tenant_started", table_name="runs")
    op.drop_table("runs")
    op.drop_table("flow_versions")
    op.drop_table("flows")
    op.drop_table("tenants")
