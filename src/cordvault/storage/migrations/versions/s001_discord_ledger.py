"""Storage: the Discord backend's deletion records and pending-post journal.

Revision ID: s001_discord_ledger
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s001_discord_ledger"
down_revision = None
branch_labels = ("storage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_discord_deletions",
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("bot", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "idx", name="pk_storage_discord_deletions"),
    )
    op.create_table(
        "storage_discord_pending",
        sa.Column("marker", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("bot", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("marker", name="pk_storage_discord_pending"),
    )
    op.create_index(
        "ix_storage_discord_pending_created_at", "storage_discord_pending", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_storage_discord_pending_created_at", "storage_discord_pending")
    op.drop_table("storage_discord_pending")
    op.drop_table("storage_discord_deletions")
