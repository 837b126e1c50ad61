"""Writing the output SQLite file the Dumpus client loads.

The file is written to a temporary name in rollback-journal mode (never WAL: a WAL database
read before checkpointing loads as empty in sql.js), indexes are built after the bulk inserts,
VACUUM compacts it, the connection is closed, and only then is it renamed into place. Readers
never see a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from cordvault.insights.schema import COLUMNS, INDEXES, TABLES

# ~150k activity rows with both secondary indexes is ~25 MB: the most that still leaves the
# client room for everything else.
ACTIVITY_INDEX_MAX_ROWS = 150_000


def write_sqlite(
    out_path: Path, rows: Mapping[str, Iterable[tuple[object, ...]]]
) -> tuple[int, dict[str, int]]:
    """Write every table of :data:`TABLES` from ``rows`` (iterables are consumed lazily).

    Returns the file size in bytes and the row count of each table. The activity table's
    secondary indexes are built only while the table is small enough for the client: they
    speed up guild/channel-scoped queries, but a database the client cannot load (its
    localStorage budget is ~35 MB in Chromium, ~18 MB in WebKit) helps no one.
    """
    counts: dict[str, int] = {}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA page_size=4096")
        with conn:
            for name, ddl in TABLES.items():
                conn.execute(ddl)
                cols = COLUMNS[name]
                counter = _Counted(rows.get(name, ()))
                conn.executemany(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    counter,
                )
                counts[name] = counter.count
            for ddl in INDEXES:
                if " ON activity " in ddl and counts["activity"] > ACTIVITY_INDEX_MAX_ROWS:
                    continue
                conn.execute(ddl)
        conn.execute("VACUUM")
    finally:
        conn.close()
    os.replace(tmp, out_path)
    return out_path.stat().st_size, counts


class _Counted:
    """An iterator that counts what passes through it."""

    def __init__(self, rows: Iterable[tuple[object, ...]]) -> None:
        self._it = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[tuple[object, ...]]:
        return self

    def __next__(self) -> tuple[object, ...]:
        row = next(self._it)
        self.count += 1
        return row
