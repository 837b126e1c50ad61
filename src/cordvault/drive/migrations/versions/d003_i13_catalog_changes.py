"""Drive: the catalog's change counter and the triggers that bump it (issue 13, idle ticks).

Revision ID: d003_i13_catalog_changes
Revises: d002_i16_features
Create Date: 2026-12-04

A later migration that creates a catalog table must call
``cordvault.drive.catalog.changes.install_triggers(op.get_bind(), [its table])``; one that
recreates a table on SQLite (``batch_alter_table``) must call it again afterwards.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.catalog import changes

revision = "d003_i13_catalog_changes"
down_revision = "d002_i16_features"
branch_labels = None
depends_on = None

# The catalog tables at this revision (fixed: later tables install their own triggers).
CATALOG_TABLES = (
    "drive_bootstrap",
    "drive_chunks",
    "drive_dav_props",
    "drive_gc",
    "drive_security_events",
    "drive_users",
    "drive_app_passwords",
    "drive_folders",
    "drive_sessions",
    "drive_trash",
    "drive_uploads",
    "drive_files",
    "drive_folder_links",
    "drive_folder_shares",
    "drive_file_versions",
    "drive_links",
    "drive_shares",
    "drive_previews",
)


def upgrade() -> None:
    op.create_table(
        "drive_catalog_changes",
        sa.Column("slot", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("xact", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("slot", name="pk_drive_catalog_changes"),
    )
    bind = op.get_bind()
    changes.seed(bind)
    changes.install_triggers(bind, CATALOG_TABLES)


def downgrade() -> None:
    changes.drop_triggers(op.get_bind(), CATALOG_TABLES, function=True)
    op.drop_table("drive_catalog_changes")
