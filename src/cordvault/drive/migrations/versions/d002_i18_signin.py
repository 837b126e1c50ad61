"""Drive: sign-in sessions, per-client throttling, the security log (issue 18).

Replaces ``drive_login_failures`` (a per-account lock) with ``drive_signin_throttle`` (growing
delays per (account, client) and per client). Tokens issued before this revision carry no
session id and stop working: users sign in again once.

Revision ID: d002_i18_signin
Revises: d001_drive_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime

revision = "d002_i18_signin"
down_revision = "d001_drive_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("drive_login_failures")
    op.create_table(
        "drive_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("last_client_address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["drive_users.id"],
            name="fk_drive_sessions_user_id_drive_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_drive_sessions_user_id", "drive_sessions", ["user_id"])
    op.create_table(
        "drive_signin_throttle",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("account_key", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "account_key", "client", name="pk_drive_signin_throttle"),
    )
    op.create_index(
        "ix_drive_signin_throttle_account_key", "drive_signin_throttle", ["account_key"]
    )
    op.create_table(
        "drive_security_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.Column("detail", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_security_events"),
    )
    op.create_index("ix_drive_security_events_at", "drive_security_events", ["at"])
    op.create_index("ix_drive_security_events_user_id", "drive_security_events", ["user_id"])
    op.create_index("ix_drive_security_events_actor_id", "drive_security_events", ["actor_id"])


def downgrade() -> None:
    op.drop_table("drive_security_events")
    op.drop_table("drive_signin_throttle")
    op.drop_table("drive_sessions")
    op.create_table(
        "drive_login_failures",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_drive_login_failures"),
    )
