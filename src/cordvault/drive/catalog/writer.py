"""The catalog writer: snapshots and a change journal of the drive's tables, on the store.

One process at a time writes (a lease row in ``drive_catalog_lease``, renewed at every tick,
taken over ``max(30, 3 N)`` seconds after its holder stopped renewing). Every
``DRIVE_CATALOG_JOURNAL_SECONDS`` (N) the holder reads every catalog table in one consistent
read transaction (``REPEATABLE READ`` on PostgreSQL; one read transaction on SQLite), compares
each row's digest with the state it last wrote, and stores the changed rows and the deleted
keys as the next **journal** record (sequence number + 1) when there are any. So a change
committed at time t is on the store by t + N + the upload time: at most N seconds of changes
(plus one upload) are lost with the database. Diffing the tables, rather than hooking writes,
catches every write of every process and every table, whatever code made it. An idle tick
does not read the tables: database triggers bump a change counter in the same transaction as
every catalog write (:mod:`cordvault.drive.catalog.changes`), and when the counter read in the
tick's transaction equals the one of the last full read, nothing was committed since
(``benchmarks/catalog.py``, ``docs/benchmarks.md``). Without the triggers (a table lacking
one) every tick reads every table, as before.

A **snapshot** (every row) opens each *epoch* (a writer's term: a random id chosen when it
takes the lease, sequence numbers starting at 0) and is written again, in addition to that
tick's journal record, after ``DRIVE_CATALOG_SNAPSHOT_CHANGES`` changed rows or
``DRIVE_CATALOG_SNAPSHOT_SECONDS``. After each snapshot, objects older than the
``DRIVE_CATALOG_KEEP_SNAPSHOTS``-th newest snapshot are deleted (journals, older snapshots,
parts of snapshots whose writer died before storing their head).

:func:`catalog_loop` runs the writer for as long as the server runs (entered by
``Services.running``); it writes once at start and once more when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cordvault.core.errors import CordvaultError
from cordvault.core.metrics import CATALOG_LAST_SUCCESS, CATALOG_RECORDS
from cordvault.drive.catalog import changes
from cordvault.drive.catalog import tables as tbl
from cordvault.drive.catalog.models import CatalogLease, CatalogObject
from cordvault.drive.catalog.records import BodyWriter, CatalogKeys, Header, store_record
from cordvault.drive.context import DriveContext
from cordvault.drive.models import utcnow
from cordvault.storage.base import NamedChunkStore

log = logging.getLogger(__name__)
LEASE = "writer"
Baseline = dict[str, dict[str, bytes]]
"""What the writer last stored: table -> encoded primary key -> row digest."""
_PRUNE_BATCH = 500


@dataclass(frozen=True)
class TickReport:
    """What one tick did."""

    leader: bool
    journal_rows: int = 0
    snapshot_rows: int | None = None
    pruned: int = 0


def _lease_seconds(ctx: DriveContext) -> float:
    return max(30.0, 3 * ctx.settings.drive_catalog_journal_seconds)


def read_schema(conn: Connection) -> list[str]:
    """The database's Alembic revisions (every branch), recorded in each record."""
    try:
        return sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:
        return []


class CatalogWriter:
    """Writes snapshots and journal records of ``ctx``'s database to its chunk store."""

    def __init__(self, ctx: DriveContext, *, holder: str | None = None) -> None:
        self.ctx = ctx
        self.keys = CatalogKeys(ctx.keyring)
        self.holder = holder or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._baseline: Baseline | None = None
        self._lock = threading.Lock()
        self.epoch = ""
        self.seq = 0
        self._changes = 0
        self._snapshot_at = 0.0
        self._counted = False  # every catalog table bumps the change counter
        self._seen: int | None = None  # the counter at the last full read the baseline holds
        bind = ctx.sessions.kw["bind"]
        assert isinstance(bind, Engine)
        self._engine: Engine = bind

    @property
    def store(self) -> NamedChunkStore:
        store = self.ctx.store
        if not isinstance(store, NamedChunkStore):
            raise TypeError("the chunk store cannot hold catalog records")
        return store

    # -- lease -------------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take or renew the writer lease; False when another live process holds it."""
        now = utcnow()
        until = now + timedelta(seconds=_lease_seconds(self.ctx))
        with self.ctx.sessions.begin() as db:
            result = db.execute(
                update(CatalogLease)
                .where(CatalogLease.name == LEASE)
                .where((CatalogLease.holder == self.holder) | (CatalogLease.expires_at < now))
                .values(holder=self.holder, expires_at=until)
                .execution_options(synchronize_session=False)
            )
            taken = cast(CursorResult[Any], result).rowcount
            if taken:
                return True
            if db.get(CatalogLease, LEASE) is not None:
                return False
        try:
            with self.ctx.sessions.begin() as db:
                db.add(CatalogLease(name=LEASE, holder=self.holder, expires_at=until))
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        """Give the lease up (a clean stop lets another process take over at once)."""
        with self.ctx.sessions.begin() as db:
            db.execute(
                update(CatalogLease)
                .where(CatalogLease.name == LEASE, CatalogLease.holder == self.holder)
                .values(expires_at=utcnow() - timedelta(seconds=1))
                .execution_options(synchronize_session=False)
            )

    # -- one tick ----------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """Renew the lease and write what changed (see the module docstring)."""
        with self._lock:  # a cancelled loop's thread may still be in a tick
            return self._tick()

    def _tick(self) -> TickReport:
        if not self.acquire():
            self._baseline = None  # another writer: start a new epoch if we get it back
            return TickReport(leader=False)
        settings = self.ctx.settings
        fresh = self._baseline is None
        due = time.monotonic() - self._snapshot_at >= settings.drive_catalog_snapshot_seconds
        bodies: list[BodyWriter] = []

        def snapshot_wanted(changed: int) -> BodyWriter | None:
            total = self._changes + changed
            if fresh or (total and (due or total >= settings.drive_catalog_snapshot_changes)):
                bodies.append(BodyWriter())
                return bodies[-1]
            return None

        journal = None if fresh else BodyWriter()
        if fresh:
            self._seen = None
            self._check_counter()
        try:
            baseline, changed, snapshot, schema, counter = self._read(journal, snapshot_wanted)
            if fresh:
                self.epoch, self.seq = secrets.token_hex(8), 0
            journal_rows = 0
            if journal is not None and changed:
                self.seq += 1
                try:
                    self._store("journal", journal, schema)
                except BaseException:
                    self.seq -= 1  # nothing stored: the next tick writes the same diff again
                    raise
                journal_rows = changed
                self._changes += changed
            if not fresh:
                self._baseline = baseline
                self._seen = counter
            snapshot_rows = None
            pruned = 0
            if snapshot is not None:
                # A fresh epoch starts only once its snapshot is stored (else: next tick).
                self._store("snapshot", snapshot, schema)
                self._baseline = baseline
                self._seen = counter
                snapshot_rows = sum(len(rows) for rows in baseline.values())
                self._changes = 0
                self._snapshot_at = time.monotonic()
                pruned = self.prune()
            return TickReport(True, journal_rows, snapshot_rows, pruned)
        finally:
            for body in (journal, *bodies):
                if body is not None:
                    body.close()

    def _check_counter(self) -> None:
        """Whether the change counter covers every catalog table (checked once per epoch)."""
        names = [table.name for table in tbl.catalog_tables()]
        with self._engine.connect() as conn:
            missing = changes.untriggered_tables(conn, names)
        self._counted = not missing
        if missing and len(missing) < len(names):
            log.error("drive tables without the catalog change trigger: %s", missing)

    def _read(
        self,
        journal: BodyWriter | None,
        snapshot_wanted: Callable[[int], BodyWriter | None],
    ) -> tuple[Baseline, int, BodyWriter | None, list[str], int | None]:
        """One consistent read transaction: the new baseline and the journal diff (changed
        rows, deleted keys, into ``journal``), then - if ``snapshot_wanted(changed rows)``
        hands a body - every row again into it, from the same transaction; and the change
        counter read first in that transaction (None when not in use).

        When the counter equals the one of the last full read, nothing changed: the tables
        are read only when a snapshot is due anyway."""
        baseline: Baseline = {}
        changed = 0
        options: dict[str, Any] = {}
        if self._engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with self._engine.connect().execution_options(**options) as conn, conn.begin():
            counter = changes.read_counter(conn) if self._counted else None
            snapshot: BodyWriter | None = None
            if journal is not None and counter is not None and counter == self._seen:
                snapshot = snapshot_wanted(0)
                if snapshot is None:
                    assert self._baseline is not None
                    return self._baseline, 0, None, [], counter
            schema = read_schema(conn)
            missing = tbl.unlisted_tables(conn)
            if missing:
                log.error("drive tables not in any snapshot (models not imported): %s", missing)
            tables = tbl.catalog_tables()
            for table in tables:
                changed += self._diff_table(conn, table, baseline, journal)
            if snapshot is None:
                snapshot = snapshot_wanted(changed)
            if snapshot is not None:
                for table in tables:
                    snapshot.table(
                        table.name, [c.name for c in table.columns], tbl.key_columns(table)
                    )
                    for row in tbl.read_table(conn, table):
                        snapshot.line(["u", row])
        return baseline, changed, snapshot, schema, counter

    def _diff_table(
        self, conn: Connection, table: Table, baseline: Baseline, journal: BodyWriter | None
    ) -> int:
        columns = [c.name for c in table.columns]
        key = tbl.key_columns(table)
        positions = [columns.index(k) for k in key]
        old = (self._baseline or {}).get(table.name, {})
        current: dict[str, bytes] = {}
        baseline[table.name] = current
        changed = 0
        header_written = journal is None

        def line(item: list[Any]) -> None:
            nonlocal header_written, changed
            assert journal is not None
            if not header_written:
                journal.table(table.name, columns, key)
                header_written = True
            journal.line(item)
            changed += 1

        for row in tbl.read_table(conn, table):
            row_key = tbl.encode_key([row[p] for p in positions])
            digest = tbl.row_digest(row)
            current[row_key] = digest
            if journal is not None and old.get(row_key) != digest:
                line(["u", row])
        if journal is not None:
            for row_key in old:
                if row_key not in current:
                    line(["d", tbl.decode_key(row_key)])
        return changed

    def _store(self, kind: str, body: BodyWriter, schema: list[str]) -> None:
        header = Header(
            kind=kind,
            epoch=self.epoch,
            seq=self.seq,
            created_at=utcnow().isoformat(),
            schema=schema,
            body_size=0,
            body_sha256="",
        )
        record = header.record_id

        def remember(role: str, locator: str) -> None:
            with self.ctx.sessions.begin() as db:
                db.add(CatalogObject(record=record, role=role, kind=kind, locator=locator))

        store_record(self.store, self.keys, header, body, remember)
        CATALOG_RECORDS.labels(kind).inc()
        CATALOG_LAST_SUCCESS.set_to_current_time()
        log.info("drive catalog: %s %s stored (%d lines)", kind, record, body.lines)

    # -- retention ---------------------------------------------------------------------------
    def prune(self) -> int:
        """Delete objects older than the oldest snapshot kept; returns how many."""
        keep = self.ctx.settings.drive_catalog_keep_snapshots
        obj = CatalogObject
        with self.ctx.sessions() as db:
            heads = db.scalars(
                select(obj.record)
                .where(obj.role == "head", obj.kind == "snapshot")
                .order_by(obj.id.desc())
                .limit(keep)
            ).all()
            if len(heads) < keep:
                return 0
            cutoff = db.scalar(select(func.min(obj.id)).where(obj.record == heads[-1]))
            doomed = db.execute(
                select(obj.id, obj.locator).where(obj.id < cutoff).limit(_PRUNE_BATCH)
            ).all()
        done = []
        for object_id, locator in doomed:
            try:
                self.store.delete(locator)
                done.append(object_id)
            except CordvaultError as exc:
                log.warning("drive catalog: pruning an object failed (%s)", exc.code)
                break
        if done:
            with self.ctx.sessions.begin() as db:
                db.execute(delete(obj).where(obj.id.in_(done)))
        return len(done)


def register_objects(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Record objects found by a recovery so the next writer's retention deletes them."""
    if rows:
        conn.execute(insert(CatalogObject), rows)


@contextlib.asynccontextmanager
async def catalog_loop(ctx: DriveContext) -> AsyncIterator[CatalogWriter]:
    """Write at once, then every ``DRIVE_CATALOG_JOURNAL_SECONDS``, and once more at the end
    (a clean stop loses nothing), in a worker thread."""
    writer = CatalogWriter(ctx)
    interval = ctx.settings.drive_catalog_journal_seconds

    async def once() -> None:
        try:
            await asyncio.to_thread(writer.tick)
        except Exception as exc:  # the loop must survive a bad tick; the next one retries
            log.warning("drive catalog tick failed: %s", type(exc).__name__)

    async def run() -> None:
        while True:
            await once()
            await asyncio.sleep(interval)

    task = asyncio.create_task(run())
    try:
        yield writer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await once()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(writer.release)
