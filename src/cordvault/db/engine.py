"""Engines, sessions and ``alembic upgrade heads`` at start.

SQLite is the embedded default: WAL journal, a busy timeout and foreign keys on, so several
processes (API + queue workers) can share the file. PostgreSQL is used as-is via psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.files import create_private_file, make_private_dirs

_MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine_for(url: str, *, write_lock_first: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with the pragmas and pool settings each backend needs.

    ``write_lock_first`` (SQLite only): every transaction starts with ``BEGIN IMMEDIATE``. A
    transaction that reads and then writes would otherwise hold a WAL read snapshot and fail
    at once with "database is locked" when another process commits in between (a stale
    snapshot cannot be upgraded and the busy timeout does not apply); with the write lock
    taken first it waits (busy timeout) instead. Meant for engines whose transactions are
    short read-then-write units (the job queue), not for code that nests sessions.
    """
    if url.startswith("sqlite"):
        if ":memory:" not in url and "///" in url:
            db_file = Path(url.split("///", 1)[1].split("?", 1)[0])
            make_private_dirs(db_file.parent)
            # Created 0600 before SQLite opens it: SQLite gives its -wal / -shm files the
            # database file's mode, so they are private too whatever the umask.
            create_private_file(db_file)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if write_lock_first:

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "savepoint")
        def _begin_before_first_savepoint(conn: Any, _name: str) -> None:
            # pysqlite only BEGINs before a write. A SAVEPOINT issued before any write would
            # itself open the transaction, and its RELEASE would then COMMIT everything - a
            # later rollback of the outer transaction would silently keep those rows. Open
            # the transaction explicitly first; pysqlite then commits it when SQLAlchemy does.
            dbapi_conn = conn.connection.dbapi_connection
            if dbapi_conn is not None and not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (services return plain values)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the package's migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    # Alembic deprecates space-splitting; paths are joined with os.pathsep instead.
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", _version_locations())
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _version_locations() -> str:
    """Every domain's ``migrations/versions`` folder (each a separate Alembic branch)."""
    root = Path(__file__).parent.parent
    folders = sorted(str(p) for p in root.glob("*/migrations/versions") if p.is_dir())
    return os.pathsep.join(folders)


def migrate(url: str) -> None:
    """Apply every branch's migrations up to its head (idempotent)."""
    locations = _version_locations()
    if not locations:
        return
    command.upgrade(alembic_config(url), "heads")
