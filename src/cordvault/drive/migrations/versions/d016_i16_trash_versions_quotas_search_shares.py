"""Drive: trash, file versions, quotas, name search, folder shares and folder links (issue 16).

Search index (docs/drive-api.md, Search): every file and folder row gets ``name_key``, the
case- and accent-folded name (:func:`cordvault.drive.names.search_key`), and
- PostgreSQL: a ``pg_trgm`` GIN index on it (``LIKE '%q%'`` uses it);
- SQLite: a table ``drive_search`` (integer rowid -> item id, kept by triggers on
  ``drive_files``/``drive_folders``) and an FTS5 ``trigram`` index over it. The FTS rowid is
  ``drive_search``'s INTEGER PRIMARY KEY, which VACUUM never renumbers (the implicit rowid of
  ``drive_files`` could change).

Revision ID: d002_i16_features
Revises: d001_drive_initial
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordvault.drive.models import UTCDateTime
from cordvault.drive.names import search_key

revision = "d002_i16_features"
down_revision = "d013_i13_catalog"
branch_labels = None
depends_on = None

_SQLITE_SEARCH = [
    """CREATE TABLE drive_search (
        rowid INTEGER PRIMARY KEY,
        item_id VARCHAR(32) NOT NULL UNIQUE,
        kind VARCHAR(8) NOT NULL,
        name_key VARCHAR(255) NOT NULL
    )""",
    """CREATE VIRTUAL TABLE drive_search_fts USING fts5(
        name_key, content='drive_search', content_rowid='rowid', tokenize='trigram'
    )""",
    """CREATE TRIGGER drive_search_ai AFTER INSERT ON drive_search BEGIN
        INSERT INTO drive_search_fts(rowid, name_key) VALUES (new.rowid, new.name_key);
    END""",
    """CREATE TRIGGER drive_search_ad AFTER DELETE ON drive_search BEGIN
        INSERT INTO drive_search_fts(drive_search_fts, rowid, name_key)
            VALUES ('delete', old.rowid, old.name_key);
    END""",
    """CREATE TRIGGER drive_search_au AFTER UPDATE ON drive_search BEGIN
        INSERT INTO drive_search_fts(drive_search_fts, rowid, name_key)
            VALUES ('delete', old.rowid, old.name_key);
        INSERT INTO drive_search_fts(rowid, name_key) VALUES (new.rowid, new.name_key);
    END""",
]


def _sqlite_item_triggers(table: str, kind: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_search_ai AFTER INSERT ON {table} BEGIN
            INSERT INTO drive_search(item_id, kind, name_key)
                VALUES (new.id, '{kind}', new.name_key);
        END""",
        f"""CREATE TRIGGER {table}_search_au AFTER UPDATE OF name_key ON {table} BEGIN
            UPDATE drive_search SET name_key = new.name_key WHERE item_id = new.id;
        END""",
        f"""CREATE TRIGGER {table}_search_ad AFTER DELETE ON {table} BEGIN
            DELETE FROM drive_search WHERE item_id = old.id;
        END""",
    ]


def _backfill_keys(table: str) -> None:
    bind = op.get_bind()
    t = sa.table(
        table,
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
    )
    rows = bind.execute(sa.select(t.c.id, t.c.name)).all()
    for row_id, name in rows:
        bind.execute(t.update().where(t.c.id == row_id).values(name_key=search_key(name)))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("drive_users") as batch:
        batch.add_column(sa.Column("quota_bytes", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("drive_folders") as batch:
        batch.add_column(sa.Column("name_key", sa.String(255), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("trash_id", sa.String(32), nullable=True))
    with op.batch_alter_table("drive_files") as batch:
        batch.add_column(sa.Column("name_key", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("trash_id", sa.String(32), nullable=True))
    op.create_index("ix_drive_folders_trash_id", "drive_folders", ["trash_id"])
    # Search in name order: broad queries walk these (drive/search.py).
    op.create_index("ix_drive_folders_name_key", "drive_folders", ["name_key", "id"])
    op.create_index("ix_drive_files_name_key", "drive_files", ["name_key", "id"])
    op.create_index("ix_drive_files_trash_id", "drive_files", ["trash_id"])
    # Quota sums: SUM(size) per owner from the index alone.
    op.create_index("ix_drive_files_owner_size", "drive_files", ["owner_id", "size"])
    op.create_table(
        "drive_trash",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(8192), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("trashed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_trash"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["drive_users.id"], name="fk_drive_trash_owner_id_drive_users"
        ),
    )
    op.create_index("ix_drive_trash_owner_id", "drive_trash", ["owner_id"])
    op.create_index("ix_drive_trash_trashed_at", "drive_trash", ["trashed_at"])
    op.create_table(
        "drive_file_versions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("content_id", sa.String(32), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_file_versions"),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["drive_files.id"],
            name="fk_drive_file_versions_file_id_drive_files",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_drive_file_versions_file_id", "drive_file_versions", ["file_id"])
    op.create_index("ix_drive_file_versions_replaced_at", "drive_file_versions", ["replaced_at"])
    op.create_table(
        "drive_folder_shares",
        sa.Column("folder_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("access", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("folder_id", "user_id", name="pk_drive_folder_shares"),
        sa.ForeignKeyConstraint(
            ["folder_id"],
            ["drive_folders.id"],
            name="fk_drive_folder_shares_folder_id_drive_folders",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["drive_users.id"],
            name="fk_drive_folder_shares_user_id_drive_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_drive_folder_shares_user_id", "drive_folder_shares", ["user_id"])
    op.create_table(
        "drive_folder_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("folder_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drive_folder_links"),
        sa.ForeignKeyConstraint(
            ["folder_id"],
            ["drive_folders.id"],
            name="fk_drive_folder_links_folder_id_drive_folders",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["drive_users.id"],
            name="fk_drive_folder_links_created_by_drive_users",
        ),
    )
    op.create_index("ix_drive_folder_links_folder_id", "drive_folder_links", ["folder_id"])

    from cordvault.drive.models import TRASH_ID, utcnow

    now = utcnow()
    folders = sa.table(
        "drive_folders",
        sa.column("id", sa.String),
        sa.column("parent_id", sa.String),
        sa.column("owner_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("public", sa.Boolean),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    op.bulk_insert(
        folders,
        [
            {
                "id": TRASH_ID,
                "parent_id": None,
                "owner_id": None,
                "name": "",
                "name_key": "",
                "public": False,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    _backfill_keys("drive_folders")
    _backfill_keys("drive_files")
    if dialect == "sqlite":
        for statement in _SQLITE_SEARCH:
            op.execute(statement)
        op.execute(
            "INSERT INTO drive_search(item_id, kind, name_key) "
            "SELECT id, 'folder', name_key FROM drive_folders"
        )
        op.execute(
            "INSERT INTO drive_search(item_id, kind, name_key) "
            "SELECT id, 'file', name_key FROM drive_files"
        )
        for statement in _sqlite_item_triggers("drive_folders", "folder"):
            op.execute(statement)
        for statement in _sqlite_item_triggers("drive_files", "file"):
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_drive_files_name_trgm ON drive_files USING gin (name_key gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_drive_folders_name_trgm ON drive_folders "
            "USING gin (name_key gin_trgm_ops)"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in ("drive_files", "drive_folders"):
            for suffix in ("ai", "au", "ad"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
        op.execute("DROP TABLE IF EXISTS drive_search_fts")
        op.execute("DROP TABLE IF EXISTS drive_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_drive_files_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_drive_folders_name_trgm")
    for table in (
        "drive_folder_links",
        "drive_folder_shares",
        "drive_file_versions",
        "drive_trash",
    ):
        op.drop_table(table)
    op.execute("DELETE FROM drive_folders WHERE id = 'trash'")
    op.drop_index("ix_drive_files_owner_size", "drive_files")
    op.drop_index("ix_drive_files_name_key", "drive_files")
    op.drop_index("ix_drive_folders_name_key", "drive_folders")
    op.drop_index("ix_drive_files_trash_id", "drive_files")
    op.drop_index("ix_drive_folders_trash_id", "drive_folders")
    with op.batch_alter_table("drive_files") as batch:
        batch.drop_column("trash_id")
        batch.drop_column("name_key")
    with op.batch_alter_table("drive_folders") as batch:
        batch.drop_column("trash_id")
        batch.drop_column("public")
        batch.drop_column("name_key")
    with op.batch_alter_table("drive_users") as batch:
        batch.drop_column("quota_bytes")
