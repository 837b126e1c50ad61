"""The drive's change counter: lets an idle catalog tick cost O(1) instead of a table read.

``drive_catalog_changes`` holds :data:`SLOTS` rows of counters. A database trigger on every
catalog table (:func:`install_triggers`, run by the migrations that create catalog tables)
bumps one of them in the *same transaction* as every inserted, updated or deleted row, so the
counters change exactly when committed catalog data does, whatever process or code wrote it
(the writer's reason to diff tables rather than hook writes still holds). The catalog writer
reads :func:`read_counter` in the same read transaction as the tables: when the sum equals the
one it saw at its last full read, nothing was committed since, and the tick skips the tables.

Why triggers and slots:
- SQLite has row triggers only: each changed row costs one single-row ``UPDATE`` of slot 0
  (writers are serialised by SQLite anyway, so one slot costs no concurrency).
- PostgreSQL: a row trigger deferred to commit (a constraint trigger) bumps the slot
  ``pg_backend_pid() % SLOTS`` at most once per transaction (it remembers the transaction id
  in ``xact``); its row lock lives only while the transaction commits, and concurrent writers
  only wait for each other when their backends share a slot and commit at the same moment.

A table without its trigger (a new drive table whose migration forgot
:func:`install_triggers`, or SQLite's batch migrations, which recreate a table without its
triggers) would hide changes: :func:`untriggered_tables` finds them, and the writer then reads
the tables at every tick as before (and logs an error); a test checks a migrated database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from cordvault.drive.catalog.models import CatalogChanges

SLOTS = 16
TABLE = CatalogChanges.__tablename__
TRIGGER_PREFIX = "drive_catalog_bump_"
_PG_FUNCTION = "drive_catalog_bump"


def seed(conn: Connection) -> None:
    """Create the counter rows (the table must exist and be empty)."""
    conn.execute(
        text(f"INSERT INTO {TABLE} (slot, counter) VALUES (:slot, 0)"),
        [{"slot": slot} for slot in range(SLOTS)],
    )


def install_triggers(conn: Connection, tables: Iterable[str]) -> None:
    """Create the bump trigger(s) on each of ``tables`` (idempotent; SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                f"UPDATE {TABLE} SET counter = counter + 1, xact = txid_current() "
                f"WHERE slot = pg_backend_pid() % {SLOTS} "
                "AND xact IS DISTINCT FROM txid_current(); "
                "RETURN NULL; END $$"
            )
        )
        for table in tables:
            # A constraint trigger deferred to commit: the slot's row lock is taken at commit
            # and held only while committing, not for the rest of a long transaction (an
            # upload streaming its body after its first write).
            conn.execute(text(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}{table} ON {table}"))
            conn.execute(
                text(
                    f"CREATE CONSTRAINT TRIGGER {TRIGGER_PREFIX}{table} "
                    f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    "DEFERRABLE INITIALLY DEFERRED "
                    f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
                )
            )
        return
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(
                text(
                    f"CREATE TRIGGER IF NOT EXISTS {TRIGGER_PREFIX}{table}_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN "
                    f"UPDATE {TABLE} SET counter = counter + 1 WHERE slot = 0; END"
                )
            )


def drop_triggers(conn: Connection, tables: Iterable[str], *, function: bool = False) -> None:
    """Remove the triggers :func:`install_triggers` made on ``tables``, and with ``function``
    PostgreSQL's trigger function too (the migration's downgrade, after every trigger)."""
    for table in tables:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}{table} ON {table}"))
        else:
            for event in ("insert", "update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}{table}_{event}"))
    if function and conn.dialect.name == "postgresql":
        conn.execute(text(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()"))


def untriggered_tables(conn: Connection, tables: Iterable[str]) -> list[str]:
    """Those of ``tables`` whose changes do not bump the counter (all of them when the
    counter table is missing or not seeded)."""
    wanted = sorted(tables)
    try:
        slots = conn.execute(text(f"SELECT COUNT(*) FROM {TABLE}")).scalar_one()
    except SQLAlchemyError:
        return wanted
    if slots < SLOTS:
        return wanted
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' "
                "AND t.tgname = :prefix || c.relname"
            ),
            {"prefix": TRIGGER_PREFIX},
        )
        covered = {str(name) for (name,) in rows}
    else:
        rows = conn.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        events: dict[str, int] = {}
        for name, table in rows:
            for event in ("insert", "update", "delete"):
                if name == f"{TRIGGER_PREFIX}{table}_{event}":
                    events[str(table)] = events.get(str(table), 0) + 1
        covered = {table for table, count in events.items() if count == 3}
    return [table for table in wanted if table not in covered]


def read_counter(conn: Connection) -> int:
    """The sum of the counters (call inside the transaction that reads the tables)."""
    total = conn.execute(text(f"SELECT COALESCE(SUM(counter), 0) FROM {TABLE}")).scalar_one()
    return int(total)
