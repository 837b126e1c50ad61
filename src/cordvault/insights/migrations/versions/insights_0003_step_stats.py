"""insights: the cluster-wide job step duration histogram (one row per step and bucket).

Revision ID: insights_0003
Revises: insights_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "insights_0003"
down_revision = "insights_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights_job_step_stats",
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("le", sa.String(16), nullable=False),
        sa.Column("observations", sa.BigInteger(), nullable=False),
        sa.Column("seconds_total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("step", "le"),
    )


def downgrade() -> None:
    op.drop_table("insights_job_step_stats")
