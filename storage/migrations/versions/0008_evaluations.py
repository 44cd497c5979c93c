"""Evaluations: datasets, cases, evaluation runs and scores (issue 22).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)
ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "eval_datasets",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_eval_dataset_name"),
    )
    op.create_table(
        "eval_cases",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("source_run_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "dataset_id"], ["eval_datasets.tenant_id", "eval_datasets.id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "dataset_id", "id"),
    )
    op.create_index("ix_eval_cases_dataset_position", "eval_cases", ["tenant_id", "dataset_id", "position"])
    op.create_table(
        "evaluations",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("use_cache", sa.Boolean(), nullable=False),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "dataset_id"], ["eval_datasets.tenant_id", "eval_datasets.id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index("ix_evaluations_tenant_created", "evaluations", ["tenant_id", "created_at"])
    op.create_index("ix_evaluations_dataset", "evaluations", ["tenant_id", "dataset_id"])
    op.create_table(
        "eval_results",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("evaluation_id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("first_chunk_ms", sa.Float(), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "evaluation_id"], ["evaluations.tenant_id", "evaluations.id"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "evaluation_id", "case_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("eval_results")
    op.drop_index("ix_evaluations_dataset", table_name="evaluations")
    op.drop_index("ix_evaluations_tenant_created", table_name="evaluations")
    op.drop_table("evaluations")
    op.drop_index("ix_eval_cases_dataset_position", table_name="eval_cases")
    op.drop_table("eval_cases")
    op.drop_table("eval_datasets")
