"""Drive: initial tables and the root folder.

Revision ID: d001_drive_initial
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime

revision = "d001_drive_initial"
down_revision = None
branch_labels = ("drive",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drive_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_users"),
        sa.UniqueConstraint("name", name="uq_drive_users_name"),
    )
    op.create_table(
        "drive_bootstrap",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_drive_bootstrap"),
    )
    op.create_table(
        "drive_login_failures",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_drive_login_failures"),
    )
    op.create_table(
        "drive_folders",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_folders"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["drive_folders.id"], name="fk_drive_folders_parent_id_drive_folders"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["drive_users.id"], name="fk_drive_folders_owner_id_drive_users"
        ),
        sa.UniqueConstraint("parent_id", "name", name="uq_drive_folders_parent_id"),
    )
    op.create_index("ix_drive_folders_parent_id", "drive_folders", ["parent_id"])
    op.create_table(
        "drive_files",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("folder_id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("content_id", sa.String(32), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_files"),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["drive_folders.id"], name="fk_drive_files_folder_id_drive_folders"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["drive_users.id"], name="fk_drive_files_owner_id_drive_users"
        ),
        sa.UniqueConstraint("folder_id", "name", name="uq_drive_files_folder_id"),
    )
    op.create_index("ix_drive_files_folder_id", "drive_files", ["folder_id"])
    op.create_index("ix_drive_files_owner_id", "drive_files", ["owner_id"])
    op.create_index("ix_drive_files_content_id", "drive_files", ["content_id"])
    op.create_table(
        "drive_chunks",
        sa.Column("content_id", sa.String(32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("locator", sa.String(1024), nullable=False),
        sa.Column("plain_size", sa.Integer(), nullable=False),
        sa.Column("plain_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("content_id", "idx", name="pk_drive_chunks"),
    )
    op.create_table(
        "drive_uploads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("folder_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("on_conflict", sa.String(16), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_uploads"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["drive_users.id"], name="fk_drive_uploads_owner_id_drive_users"
        ),
    )
    op.create_index("ix_drive_uploads_owner_id", "drive_uploads", ["owner_id"])
    op.create_table(
        "drive_shares",
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("access", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "user_id", name="pk_drive_shares"),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["drive_files.id"],
            name="fk_drive_shares_file_id_drive_files",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["drive_users.id"],
            name="fk_drive_shares_user_id_drive_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_drive_shares_user_id", "drive_shares", ["user_id"])
    op.create_table(
        "drive_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_links"),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["drive_files.id"],
            name="fk_drive_links_file_id_drive_files",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["drive_users.id"], name="fk_drive_links_created_by_drive_users"
        ),
    )
    op.create_index("ix_drive_links_file_id", "drive_links", ["file_id"])
    op.create_table(
        "drive_gc",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("locator", sa.String(1024), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_gc"),
    )
    op.create_index("ix_drive_gc_not_before", "drive_gc", ["not_before"])
    folders = sa.table(
        "drive_folders",
        sa.column("id", sa.String),
        sa.column("parent_id", sa.String),
        sa.column("owner_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    from cordvault.drive.models import ROOT_ID, utcnow

    now = utcnow()
    op.bulk_insert(
        folders,
        [
            {
                "id": ROOT_ID,
                "parent_id": None,
                "owner_id": None,
                "name": "",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "drive_gc",
        "drive_links",
        "drive_shares",
        "drive_uploads",
        "drive_chunks",
        "drive_files",
        "drive_folders",
        "drive_login_failures",
        "drive_bootstrap",
        "drive_users",
    ):
        op.drop_table(table)
