"""A/B testing: experiments, their variants, sticky session assignments and run feedback (issue 17);
node metric rows get the run's experiment and variant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)
EXPERIMENT_FK = (["tenant_id", "experiment_id"], ["experiments.tenant_id", "experiments.id"])


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("primary_metric", sa.String(32), nullable=False),
        sa.Column("min_runs", sa.Integer(), nullable=False),
        sa.Column("winner", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_index("ix_experiments_tenant_flow", "experiments", ["tenant_id", "flow_id", "status"])
    op.create_table(
        "experiment_variants",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(*EXPERIMENT_FK, ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "experiment_id", "name"),
    )
    op.create_table(
        "experiment_assignments",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(*EXPERIMENT_FK, ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "experiment_id", "session_id"),
    )
    op.create_table(
        "run_feedback",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "run_id"),
    )
    with op.batch_alter_table("tenant_flow_metrics") as batch:
        batch.add_column(sa.Column("experiment_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("variant", sa.String(64), nullable=True))
    op.create_index("ix_tfm_tenant_experiment", "tenant_flow_metrics",
                    ["tenant_id", "experiment_id", "variant", "cache"])


def downgrade() -> None:
    op.drop_index("ix_tfm_tenant_experiment", table_name="tenant_flow_metrics")
    with op.batch_alter_table("tenant_flow_metrics") as batch:
        batch.drop_column("variant")
        batch.drop_column("experiment_id")
    op.drop_table("run_feedback")
    op.drop_table("experiment_assignments")
    op.drop_table("experiment_variants")
    op.drop_index("ix_experiments_tenant_flow", table_name="experiments")
    op.drop_table("experiments")
