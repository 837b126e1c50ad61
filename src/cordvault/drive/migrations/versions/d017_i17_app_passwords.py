"""Drive: app passwords (HTTP Basic for WebDAV clients) and WebDAV dead properties.

Revision ID: d017_i17_app_passwords
Revises: d001_drive_initial
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime

revision = "d017_i17_app_passwords"
down_revision = "d002_i18_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drive_app_passwords",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drive_app_passwords"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["drive_users.id"],
            name="fk_drive_app_passwords_user_id_drive_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("secret_hash", name="uq_drive_app_passwords_secret_hash"),
    )
    op.create_index("ix_drive_app_passwords_user_id", "drive_app_passwords", ["user_id"])
    op.create_table(
        "drive_dav_props",
        sa.Column("resource_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "name", name="pk_drive_dav_props"),
    )


def downgrade() -> None:
    op.drop_table("drive_dav_props")
    op.drop_index("ix_drive_app_passwords_user_id", table_name="drive_app_passwords")
    op.drop_table("drive_app_passwords")
