"""Writing the output SQLite file the Dumpus client loads.

The file is written to a temporary name in rollback-journal mode (never WAL: a WAL database
read before checkpointing loads as empty in sql.js), indexes are built after the bulk inserts,
VACUUM compacts it, the connection is closed, and only then is it renamed into place. Readers
never see a half-written file.

:class:`SqliteWriter` lets rows arrive in stages: the analysis writes the message rows while
the analytics shards are still being scanned, then everything else.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from cordvault.insights.schema import COLUMNS, INDEXES, TABLES

# ~150k activity rows with both secondary indexes is ~25 MB: the most that still leaves the
# client room for everything else.
ACTIVITY_INDEX_MAX_ROWS = 150_000

Row = tuple[object, ...]


class SqliteWriter:
    """A new output database, filled table by table, finished (or aborted) once.

    The connection may be used from one thread at a time, handed over between threads
    (``check_same_thread=False``); callers serialise access (the analysis joins its writer
    thread before writing more).
    """

    def __init__(self, out_path: Path) -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_path = out_path
        self.tmp = out_path.with_name(out_path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._conn: sqlite3.Connection | None = sqlite3.connect(self.tmp, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA page_size=4096")
        for ddl in TABLES.values():
            self._conn.execute(ddl)

    def insert(self, table: str, rows: Iterable[Row]) -> int:
        """Insert ``rows`` (consumed lazily) into ``table``; return how many."""
        assert self._conn is not None, "writer already finished"
        cols = COLUMNS[table]
        counter = _Counted(rows)
        with self._conn:
            self._conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                counter,
            )
        self.counts[table] += counter.count
        return counter.count

    def finish(self) -> tuple[int, dict[str, int]]:
        """Build indexes, VACUUM, close, rename into place; return (size, row counts).

        The activity table's secondary indexes are built only while the table is small
        enough for the client: they speed up guild/channel-scoped queries, but a database the
        client cannot load (its localStorage budget is ~35 MB in Chromium, ~18 MB in WebKit)
        helps no one.
        """
        assert self._conn is not None, "writer already finished"
        conn, self._conn = self._conn, None
        try:
            with conn:
                for ddl in INDEXES:
                    big = self.counts["activity"] > ACTIVITY_INDEX_MAX_ROWS
                    if " ON activity " in ddl and big:
                        continue
                    conn.execute(ddl)
            conn.execute("VACUUM")  # also re-packs rows that arrived out of key order
        finally:
            conn.close()
        os.replace(self.tmp, self.out_path)
        return self.out_path.stat().st_size, dict(self.counts)

    def abort(self) -> None:
        """Drop the unfinished file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class _Counted:
    """An iterator that counts what passes through it."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._it = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        row = next(self._it)
        self.count += 1
        return row
