"""Drive: the catalog writer's lease and its stored-object list (issue 13, disaster recovery).

Revision ID: d013_i13_catalog
Revises: d001_drive_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime

revision = "d013_i13_catalog"
down_revision = "d012_i12_previews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drive_catalog_lease",
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_drive_catalog_lease"),
    )
    op.create_table(
        "drive_catalog_objects",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("locator", sa.String(1024), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_catalog_objects"),
    )
    op.create_index(
        "ix_drive_catalog_objects_record", "drive_catalog_objects", ["record"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_drive_catalog_objects_record", table_name="drive_catalog_objects")
    op.drop_table("drive_catalog_objects")
    op.drop_table("drive_catalog_lease")
