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
from collections.abc import Mapping, Sequence
from pathlib import Path

from cordvault.insights.schema import COLUMNS, INDEXES, TABLES


def write_sqlite(out_path: Path, rows: Mapping[str, Sequence[tuple[object, ...]]]) -> int:
    """Write every table of :data:`TABLES` with ``rows``; return the file size in bytes."""
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
                table_rows = rows.get(name, ())
                if table_rows:
                    cols = COLUMNS[name]
                    conn.executemany(
                        f"INSERT INTO {name} ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' * len(cols))})",
                        table_rows,
                    )
            for ddl in INDEXES:
                conn.execute(ddl)
        conn.execute("VACUUM")
    finally:
        conn.close()
    os.replace(tmp, out_path)
    return out_path.stat().st_size
