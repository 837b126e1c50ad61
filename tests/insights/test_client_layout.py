"""The clustered activity layout answers every Dumpus client query exactly as the previous
layout did, and its stored form fits the app's localStorage.

"Today's layout" (``cordvault-1``) is rebuilt here from the same rows, as its writer laid
them out: a rowid ``activity`` table with the declared primary key as a separate index,
message_sent rows inserted first, then the other events, each in key order, the two
secondary activity indexes while the table has at most 150,000 rows, then ``VACUUM``.
Every query the app runs (``dumpus_queries.py``) for every time range must return the same
rows, in the same order, on both files.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.insights.client_storage import stored_chars
from tests.insights.dumpus_queries import TIME_RANGES, client_queries

from cordvault.core.settings import Settings
from cordvault.insights.analyze import analyze_package
from cordvault.insights.generator import GenOptions, generate_package
from cordvault.insights.output.sqlite_schema import COLUMNS

LEGACY_ACTIVITY = """
    CREATE TABLE activity (
        event_name TEXT NOT NULL,
        day TEXT NOT NULL,
        hour INTEGER,
        occurence_count INTEGER NOT NULL,
        associated_user_id TEXT,
        associated_channel_id TEXT,
        associated_guild_id TEXT,
        extra_field_1 TEXT,
        extra_field_2 TEXT,
        PRIMARY KEY (event_name, day, hour, associated_channel_id, associated_guild_id,
                     associated_user_id, extra_field_1)
    )"""
LEGACY_ACTIVITY_INDEXES = (
    "CREATE INDEX idx_activity_event_guild_day ON activity (event_name, associated_guild_id, day)",
    "CREATE INDEX idx_activity_event_channel_day"
    " ON activity (event_name, associated_channel_id, day)",
)
LEGACY_INDEX_MAX_ROWS = 150_000
_KEY = (
    "event_name, day, hour, associated_channel_id, associated_guild_id, associated_user_id,"
    " extra_field_1"
)


def legacy_copy(new: Path, old: Path) -> None:
    """Write ``old``: the rows of ``new`` in the ``cordvault-1`` layout."""
    tmp = old.with_name(old.name + ".tmp")
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("ATTACH ? AS new", (str(new),))
        for name, ddl in conn.execute(
            "SELECT name, sql FROM new.sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            conn.execute(LEGACY_ACTIVITY if name == "activity" else ddl)
        cols = ", ".join(COLUMNS["activity"])
        rows = 0
        for where in ("event_name = 'message_sent'", "event_name != 'message_sent'"):
            cursor = conn.execute(
                f"INSERT INTO main.activity ({cols}) SELECT {cols} FROM new.activity"
                f" WHERE {where} ORDER BY {_KEY}"
            )
            rows += cursor.rowcount
        for name in COLUMNS:
            if name != "activity":
                conn.execute(f"INSERT INTO main.{name} SELECT * FROM new.{name}")
        for (ddl,) in conn.execute(
            "SELECT sql FROM new.sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name != 'activity'"
        ).fetchall():
            conn.execute(ddl)
        if rows <= LEGACY_INDEX_MAX_ROWS:
            for ddl in LEGACY_ACTIVITY_INDEXES:
                conn.execute(ddl)
        conn.commit()
        conn.execute("DETACH new")
        conn.execute("VACUUM INTO ?", (str(old),))
    finally:
        conn.close()
        tmp.unlink()


def _answers(db: Path) -> dict[tuple[str, str, int], list[tuple[object, ...]]]:
    """Every client query's rows on ``db``, keyed by (time range, name, position)."""
    out: dict[tuple[str, str, int], list[tuple[object, ...]]] = {}
    conn = sqlite3.connect(db)
    try:
        for time_range in TIME_RANGES:
            for i, (name, sql) in enumerate(client_queries(conn, time_range)):
                if name == "packageData":  # the schema version differs, by design
                    sql = sql.replace("*", "package_id, package_owner_id, package_owner_name")
                out[(time_range, name, i)] = conn.execute(sql).fetchall()
    finally:
        conn.close()
    return out


def _analysed(tmp_path: Path, options: GenOptions) -> Path:
    package = tmp_path / "package.zip"
    generate_package(package, options)
    out = tmp_path / "new.sqlite"
    analyze_package(package, out, settings=Settings())
    return out


SHAPES = [
    pytest.param(GenOptions(variant="modern", seed=3, messages=6000, events=9000), id="modern"),
    pytest.param(
        GenOptions(variant="mixed", seed=8, messages=4000, events=6000, profile="realistic"),
        id="mixed-realistic",
    ),
    pytest.param(
        GenOptions(variant="legacy-csv", seed=5, messages=3000, events=5000), id="legacy-csv"
    ),
    pytest.param(
        GenOptions(variant="partial-no-activity", seed=2, messages=2000, events=0),
        id="partial-no-activity",
    ),
    pytest.param(
        GenOptions(variant="no-analytics-opt-out", seed=4, messages=1500, events=3000),
        id="opt-out",
    ),
]


@pytest.mark.parametrize("options", SHAPES)
def test_every_client_query_answers_as_on_the_previous_layout(
    tmp_path: Path, options: GenOptions
) -> None:
    new = _analysed(tmp_path, options)
    old = tmp_path / "old.sqlite"
    legacy_copy(new, old)
    with sqlite3.connect(old) as conn:
        legacy_rows = conn.execute("SELECT count(*) FROM activity").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'idx_activity%'")
    want, got = _answers(old), _answers(new)
    assert len(want) > 150
    assert got.keys() == want.keys()
    for key, rows in want.items():
        assert got[key] == rows, key
    with sqlite3.connect(new) as conn:
        assert conn.execute("SELECT count(*) FROM activity").fetchone()[0] == legacy_rows
    # Smaller for the same answers: the primary key no longer copies the table.
    assert new.stat().st_size < old.stat().st_size


def test_realistic_medium_package_fits_webkit_with_room(tmp_path: Path) -> None:
    """A 60 k-message realistic package: the stored form is measured exactly (the app's own
    encoding), and is a fraction of both the old layout's and WebKit's quota. The 500 k and
    2 M packages are measured by benchmarks/insights_client_storage.py."""
    new = _analysed(
        tmp_path, GenOptions(seed=7, messages=60_000, events=90_000, profile="realistic")
    )
    old = tmp_path / "old.sqlite"
    legacy_copy(new, old)
    new_chars = stored_chars(new.read_bytes())
    old_chars = stored_chars(old.read_bytes())
    assert new_chars < 0.75 * old_chars, (new_chars, old_chars)
    assert new_chars < 2_620_000 / 4, new_chars
