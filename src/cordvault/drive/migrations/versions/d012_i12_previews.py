"""Drive: thumbnails and previews (issue 12).

Revision ID: d012_i12_previews
Revises: d001_drive_initial
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime

revision = "d012_i12_previews"
down_revision = "d017_i17_app_passwords"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drive_previews",
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("content_id", sa.String(32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("chunk_size", sa.Integer(), nullable=True),
        sa.Column("list_bytes", sa.Integer(), nullable=False),
        sa.Column("grid_bytes", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", name="pk_drive_previews"),
    )


def downgrade() -> None:
    op.drop_table("drive_previews")
