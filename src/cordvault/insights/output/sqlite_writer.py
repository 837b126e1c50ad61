"""Writing the output SQLite file the Dumpus client loads.

The file is written to a temporary name in rollback-journal mode (never WAL: a WAL database
read before checkpointing loads as empty in sql.js), indexes are built after the bulk inserts,
``VACUUM INTO`` writes a compacted copy, and only then is that renamed into place. Readers
never see a half-written file.

:class:`SqliteWriter` lets rows arrive in stages: the analysis writes the message rows while
the analytics shards are still being scanned, then everything else.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import orjson

from cordvault.insights.output.sqlite_schema import COLUMNS, INDEXES, TABLES

# The activity table's two secondary indexes are built up to this many rows. At 127k rows
# (a realistic 500k-message package) table + indexes are 19.6 MB, stored by the client in
# 2.19 M localStorage characters (WebKit's quota is ~2.62 M); see docs/benchmarks.md.
ACTIVITY_INDEX_MAX_ROWS = 150_000

Row = tuple[object, ...]

# A (hour, count) pair travels as one JSON integer: hour << 32 | count.
_COUNT_BITS = 32
_COUNT_MASK = (1 << _COUNT_BITS) - 1


@dataclass(frozen=True)
class HourSeries:
    """One channel's hourly counts: ``hours`` (hours since 1970-01-01 UTC, ascending, may be
    negative) and ``counts`` are parallel arrays."""

    channel_id: str
    guild_id: str | None
    hours: array[int]
    counts: array[int]


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
        self.compacted = out_path.with_name(out_path.name + ".compacted")
        for leftover in (self.tmp, self.compacted):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        # Event names whose activity rows are written (each exactly once: cordvault_order
        # numbers the rows of one write, so a second write of the same event would collide).
        self._written_events: set[str] = set()
        self._staged_written = False
        self._conn: sqlite3.Connection | None = sqlite3.connect(self.tmp, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA page_size=4096")
        for ddl in TABLES.values():
            self._conn.execute(ddl)
        # Activity rows whose counts add up across stages (see stage_activity): clustered
        # on the activity primary key, with '' standing for NULL (a primary key column of a
        # WITHOUT ROWID table cannot be NULL; the counting never produces '' values).
        self._conn.execute(
            "CREATE TEMP TABLE activity_stage (event_name TEXT NOT NULL, day TEXT NOT NULL,"
            " hour INTEGER NOT NULL, channel TEXT NOT NULL, guild TEXT NOT NULL,"
            " user TEXT NOT NULL, extra1 TEXT NOT NULL, n INTEGER NOT NULL, extra2 TEXT,"
            " PRIMARY KEY (event_name, day, hour, channel, guild, user, extra1)) WITHOUT ROWID"
        )

    def insert(self, table: str, rows: Iterable[Row]) -> int:
        """Insert ``rows`` (consumed lazily) into ``table``; return how many.

        Not for ``activity``: its rows come through :meth:`insert_hourly` and
        :meth:`stage_activity`, which number them (``cordvault_order``).
        """
        assert self._conn is not None, "writer already finished"
        if table == "activity":
            raise ValueError("activity rows go through insert_hourly or stage_activity")
        cols = COLUMNS[table]
        counter = _Counted(rows)
        with self._conn:
            self._conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                counter,
            )
        self.counts[table] += counter.count
        return counter.count

    def stage_activity(self, rows: Iterable[Row]) -> int:
        """Stage ``activity`` rows (full rows, any order); return how many.

        A row whose primary key is already staged adds to it (``occurence_count`` summed,
        ``extra_field_2`` the greatest given): callers stage partial counts, one analytics
        shard at a time, as they arrive. The staging table is kept in key order, so
        :meth:`insert_staged_activity` only copies.
        """
        assert self._conn is not None, "writer already finished"
        counter = _Counted(rows)
        with self._conn:
            self._conn.executemany(
                "INSERT INTO activity_stage VALUES (?1, ?2, ?3, ifnull(?6, ''), ifnull(?7, ''),"
                " ifnull(?5, ''), ifnull(?8, ''), ?4, ?9) ON CONFLICT DO UPDATE SET"
                " n = n + excluded.n, extra2 = CASE WHEN extra2 IS NULL"
                " OR excluded.extra2 > extra2 THEN excluded.extra2 ELSE extra2 END",
                counter,
            )
        return counter.count

    def insert_staged_activity(self) -> int:
        """Write the staged activity rows (already one per primary key, in key order) into
        ``activity``, numbered within each (event_name, day, hour); return how many.

        Called once, after every stage; its event names must not be written by
        :meth:`insert_hourly` (ValueError otherwise).
        """
        assert self._conn is not None, "writer already finished"
        if self._staged_written:
            raise ValueError("the staged activity rows are written once")
        self._staged_written = True
        staged = {name for (name,) in self._conn.execute(
            "SELECT DISTINCT event_name FROM activity_stage")}  # fmt: skip
        self._claim_events(staged)
        with self._conn:
            # '' < any other text, as NULL sorts first in the reference's index: the number
            # follows the reference's row order. The window reads the staging table in its
            # key order (no sort).
            cursor = self._conn.execute(
                "INSERT INTO activity (event_name, day, hour, associated_channel_id,"
                " associated_guild_id, associated_user_id, extra_field_1, occurence_count,"
                " extra_field_2, cordvault_order) SELECT event_name, day, hour,"
                " nullif(channel, ''), nullif(guild, ''), nullif(user, ''), nullif(extra1, ''),"
                " n, extra2, row_number() OVER (PARTITION BY event_name, day, hour"
                " ORDER BY channel, guild, user, extra1) - 1"
                " FROM activity_stage"
                " ORDER BY event_name, day, hour, channel, guild, user, extra1"  # (no sort)
            )
            self._conn.execute("DELETE FROM activity_stage")
        self.counts["activity"] += cursor.rowcount
        return cursor.rowcount

    def insert_hourly(
        self, event_name: str, series: Iterable[HourSeries], day_text: Callable[[int], str]
    ) -> int:
        """Insert one ``activity`` row per (hour, channel) of ``series`` for ``event_name``,
        in primary-key order; return how many. ``day_text(n)`` is the ``day`` column of day
        number ``n`` (days since 1970-01-01).

        All of an event's series come in one call (ValueError for an event already written,
        or a channel given twice): ``cordvault_order`` is the channel's rank among the
        call's channel ids, so rows of one hour follow the channel order.

        Why not :meth:`insert`: a million rows built as Python tuples cost ~4 us each. Here
        each channel's arrays go to SQLite as one JSON array (unpacked by ``json_each`` in C)
        into a temporary table, and a single INSERT ... SELECT sorts and writes them: ~1.2 us
        a row, and the primary-key index is filled in order.
        """
        assert self._conn is not None, "writer already finished"
        self._claim_events({event_name})
        conn = self._conn
        days: set[int] = set()
        every = list(series)
        ranks = {cid: rank for rank, cid in enumerate(sorted({one.channel_id for one in every}))}
        if len(ranks) != len(every):
            raise ValueError(f"a channel's {event_name} series was given twice")
        with conn:
            conn.execute("CREATE TEMP TABLE hourly_stage (k INTEGER, ch INTEGER, n INTEGER)")
            conn.execute(
                "CREATE TEMP TABLE hourly_channel (ch INTEGER PRIMARY KEY, cid TEXT, gid TEXT)"
            )
            conn.execute("CREATE TEMP TABLE hourly_day (d INTEGER PRIMARY KEY, txt TEXT)")
            for one in every:
                ch = ranks[one.channel_id]
                conn.execute(
                    "INSERT INTO hourly_channel VALUES (?, ?, ?)",
                    (ch, one.channel_id, one.guild_id),
                )
                if not one.hours:
                    continue
                if min(one.counts) >= 0 and max(one.counts) <= _COUNT_MASK:
                    packed = [
                        k << _COUNT_BITS | n for k, n in zip(one.hours, one.counts, strict=True)
                    ]
                    conn.execute(
                        f"INSERT INTO hourly_stage SELECT value >> {_COUNT_BITS}, ?,"
                        f" value & {_COUNT_MASK} FROM json_each(?)",
                        (ch, orjson.dumps(packed)),
                    )
                else:  # a count beyond 32 bits: no packing (never seen, but never wrong)
                    conn.executemany(
                        "INSERT INTO hourly_stage VALUES (?, ?, ?)",
                        zip(one.hours, repeat(ch), one.counts),
                    )
                days.update({k // 24 for k in one.hours})
            conn.executemany(
                "INSERT INTO hourly_day VALUES (?, ?)", ((d, day_text(d)) for d in sorted(days))
            )
            # SQLite's % and / truncate toward zero: hour and day are floored explicitly so
            # that hours before 1970 land on the right day.
            cursor = conn.execute(
                "INSERT INTO activity (event_name, day, hour, occurence_count,"
                " associated_channel_id, associated_guild_id, cordvault_order)"
                " SELECT ?, d.txt, s.h, s.n, c.cid, c.gid, s.ch FROM"
                " (SELECT ((k % 24) + 24) % 24 AS h, (k - ((k % 24) + 24) % 24) / 24 AS d,"
                " k, ch, n FROM hourly_stage) AS s"
                " JOIN hourly_day AS d ON d.d = s.d JOIN hourly_channel AS c ON c.ch = s.ch"
                " ORDER BY s.k, s.ch",
                (event_name,),
            )
            count = cursor.rowcount
            for table in ("hourly_stage", "hourly_channel", "hourly_day"):
                conn.execute(f"DROP TABLE {table}")
        self.counts["activity"] += count
        return count

    def _claim_events(self, names: set[str]) -> None:
        """Record that ``names`` are being written; ValueError if one already was."""
        again = names & self._written_events
        if again:
            raise ValueError(f"activity rows of {sorted(again)} were already written")
        self._written_events |= names

    def finish(self) -> tuple[int, dict[str, int]]:
        """Build indexes, compact, close, rename into place; return (size, row counts).

        ``ANALYZE activity`` writes the planner statistics sql.js needs to answer the
        client's daily charts quickly. Compacting is ``VACUUM INTO`` a second file (one copy;
        a plain VACUUM copies twice): it packs the b-tree pages the staged inserts left
        partly filled (~6% of the file).

        The activity table's secondary indexes are built only while the table is small
        enough for the client: they speed up guild/channel-scoped queries, but a database the
        client cannot store (localStorage: 5 Mi characters in Chromium, ~2.62 M in WebKit,
        of its LZString-encoded bytes; docs/insights-semantics.md "Physical layout") helps
        no one.
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
                # Statistics for the client's query planner (sqlite_stat1, a few hundred
                # bytes): with them it reaches one day's activity rows by skip-scanning the
                # clustered key over the ~17 event names, where it would otherwise scan the
                # whole table once per day of the app's daily charts (SQLite builds no
                # automatic index on a WITHOUT ROWID table): 48 s -> 0.06 s for the "year"
                # chart of a 1 M-row table. Only activity: statistics on the small tables
                # change the plans of the top lists, and with them the order of ties.
                conn.execute("ANALYZE activity")
            conn.execute("VACUUM INTO ?", (str(self.compacted),))
        finally:
            conn.close()
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
        os.replace(self.compacted, self.out_path)
        return self.out_path.stat().st_size, dict(self.counts)

    def abort(self) -> None:
        """Drop the unfinished file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for unfinished in (self.tmp, self.compacted):
            with contextlib.suppress(FileNotFoundError):
                unfinished.unlink()


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
