"""Runs: the worker holding a queued run (lease, heartbeat, attempts) and what a run belongs to
(an experiment's variant, an evaluation).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("worker", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lease_until", TS, nullable=True))
        batch.add_column(sa.Column("heartbeat_at", TS, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("experiment_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("variant", sa.String(64), nullable=True))
        batch.add_column(sa.Column("evaluation_id", sa.String(64), nullable=True))
    op.create_index("ix_runs_status_lease", "runs", ["status", "lease_until"])
    op.create_index("ix_runs_tenant_experiment", "runs", ["tenant_id", "experiment_id"])
    op.create_index("ix_runs_tenant_evaluation", "runs", ["tenant_id", "evaluation_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_tenant_evaluation", "runs")
    op.drop_index("ix_runs_tenant_experiment", "runs")
    op.drop_index("ix_runs_status_lease", "runs")
    with op.batch_alter_table("runs") as batch:
        for name in ("evaluation_id", "variant", "experiment_id", "attempts", "heartbeat_at", "lease_until", "worker"):
            batch.drop_column(name)
