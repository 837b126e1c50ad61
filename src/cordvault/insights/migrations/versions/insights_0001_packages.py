"""insights: the package job table.

Revision ID: insights_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "insights_0001"
down_revision = None
branch_labels = ("insights",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights_packages",
        sa.Column("package_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("is_upgraded", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("premium_when_joined", sa.Integer(), nullable=False),
        sa.Column("standard_when_joined", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blob_key", sa.String(128), nullable=True),
        sa.Column("blob_meta", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("package_id", name="pk_insights_packages"),
    )
    op.create_index(
        "ix_insights_packages_queue",
        "insights_packages",
        ["state", "is_upgraded", "queued_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_insights_packages_queue", table_name="insights_packages")
    op.drop_table("insights_packages")
