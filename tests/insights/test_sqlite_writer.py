"""The output writer: staged hourly inserts land in primary-key order with exact values."""

from __future__ import annotations

import sqlite3
from array import array
from pathlib import Path

import pytest

from cordvault.insights.aggregate.build import day_text
from cordvault.insights.output.sqlite_writer import HourSeries, SqliteWriter


def _series(channel: str, guild: str | None, pairs: list[tuple[int, int]]) -> HourSeries:
    return HourSeries(
        channel, guild, array("q", [k for k, _ in pairs]), array("q", [n for _, n in pairs])
    )


def _activity(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        # The clustered key order: the order sql.js scans the table in.
        return conn.execute(
            "SELECT event_name, day, hour, occurence_count, associated_user_id,"
            " associated_channel_id, associated_guild_id, extra_field_1, extra_field_2"
            " FROM activity ORDER BY event_name, day, hour, cordvault_order"
        ).fetchall()


def _integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA integrity_check`` findings, less a false positive of SQLite before 3.41: it
    reports "NULL value in T.C" for a NOT NULL column of a WITHOUT ROWID table that holds
    none (sql.js's SQLite 3.49 reports ok for the same file); those columns are checked
    directly instead."""
    found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if found == ["ok"]:
        return []
    nulls = conn.execute("SELECT count(*) FROM activity WHERE occurence_count IS NULL").fetchone()
    assert nulls == (0,)
    return [f for f in found if not f.startswith("NULL value in activity.")]


def test_insert_hourly_writes_rows_in_primary_key_order(tmp_path: Path) -> None:
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    jan_2_1970_0300 = 24 + 3
    before_1970 = -1  # 1969-12-31 23:00
    big = (1 << 32) + 5  # does not fit the packed form: the unpacked path
    count = writer.insert_hourly(
        "message_sent",
        [
            _series("200", "9", [(before_1970, 2), (jan_2_1970_0300, 7)]),
            _series("100", None, [(jan_2_1970_0300, 1), (jan_2_1970_0300 + 1, big)]),
            _series("300", None, []),
        ],
        day_text,
    )
    writer.finish()
    assert count == 4
    assert _activity(out) == [
        ("message_sent", "1969-12-31", 23, 2, None, "200", "9", None, None),
        ("message_sent", "1970-01-02", 3, 1, None, "100", None, None, None),
        ("message_sent", "1970-01-02", 3, 7, None, "200", "9", None, None),
        ("message_sent", "1970-01-02", 4, big, None, "100", None, None, None),
    ]


def test_insert_hourly_runs_once_per_event_and_mixes_with_staged_rows(tmp_path: Path) -> None:
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    writer.insert_hourly("message_sent", [_series("1", None, [(-24 * 366, 3)])], day_text)
    writer.stage_activity([("app_opened", "2020-01-01", 0, 4, None, None, None, "ios", None)])
    writer.insert_hourly("other_hourly", [_series("1", None, [(0, 1)])], day_text)
    assert writer.insert_staged_activity() == 1
    # The order key numbers one write's rows: an event written twice would collide.
    with pytest.raises(ValueError, match="already written"):
        writer.insert_hourly("message_sent", [_series("2", None, [(0, 1)])], day_text)
    with pytest.raises(ValueError, match="twice"):
        writer.insert_hourly("third", [_series("1", None, []), _series("1", None, [])], day_text)
    with pytest.raises(ValueError, match="once"):
        writer.insert_staged_activity()
    with pytest.raises(ValueError, match="insert_hourly or stage_activity"):
        writer.insert("activity", [])
    _size, counts = writer.finish()
    assert counts["activity"] == 3
    rows = _activity(out)
    assert rows[0][:4] == ("app_opened", "2020-01-01", 0, 4)
    assert rows[1][:6] == ("message_sent", "1968-12-31", 0, 3, None, "1")
    assert rows[2][:4] == ("other_hourly", "1970-01-01", 0, 1)


def test_staged_event_already_written_hourly_is_refused(tmp_path: Path) -> None:
    writer = SqliteWriter(tmp_path / "out.sqlite")
    writer.insert_hourly("guild_joined", [_series("1", "9", [(0, 1)])], day_text)
    writer.stage_activity([("guild_joined", "1970-01-01", 0, 1, None, None, "9", None, None)])
    with pytest.raises(ValueError, match="already written"):
        writer.insert_staged_activity()
    writer.abort()


def test_order_key_follows_the_reference_index_order_nulls_first(tmp_path: Path) -> None:
    """Rows of one (event, day, hour) are numbered as the reference's primary-key index
    orders them: by channel, guild, user, extra_field_1, NULL before any text."""
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    day = ("add_reaction", "2023-06-01", 0)
    writer.stage_activity(
        [
            (*day, 1, None, "7", None, "b", "0"),
            (*day, 2, None, "7", None, "a", "0"),
            (*day, 3, None, "10", None, "z", "1"),
            ("app_opened", "2023-06-01", 0, 4, None, None, None, None, None),
            ("app_opened", "2023-06-01", 0, 5, None, None, None, "ios", None),
        ]
    )
    writer.insert_hourly(
        "message_sent",
        [_series("300", None, [(5, 1)]), _series("20", "9", [(5, 2)]), _series("1", None, [])],
        day_text,
    )
    writer.insert_staged_activity()
    writer.finish()
    with sqlite3.connect(out) as conn:
        got = conn.execute(
            "SELECT event_name, cordvault_order, occurence_count FROM activity"
            " ORDER BY event_name, day, hour, cordvault_order"
        ).fetchall()
    assert got == [
        ("add_reaction", 0, 3),  # channel "10" < "7" as text
        ("add_reaction", 1, 2),
        ("add_reaction", 2, 1),
        ("app_opened", 0, 4),  # NULL os first
        ("app_opened", 1, 5),
        ("message_sent", 1, 2),  # ranks among "1", "20", "300"
        ("message_sent", 2, 1),
    ]


def test_finish_leaves_only_the_compacted_file_and_abort_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    writer.insert_hourly(
        "message_sent", [_series("1", None, [(h, 1) for h in range(5000)])], day_text
    )
    size, counts = writer.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.sqlite"]
    assert size == out.stat().st_size
    assert counts["activity"] == 5000
    with sqlite3.connect(out) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
        assert _integrity_problems(conn) == []

    second = SqliteWriter(tmp_path / "other.sqlite")
    second.insert_hourly("message_sent", [_series("1", None, [(0, 1)])], day_text)
    second.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.sqlite"]


def test_staged_activity_is_summed_per_key_across_stages(tmp_path: Path) -> None:
    """Each analytics shard stages its own counts; the same key from two shards is one row
    (counts summed, the custom-emoji flag set if any shard saw it custom)."""
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    reaction = ("add_reaction", "2023-06-01", 0, 2, None, "7", None, "x", "0")
    writer.stage_activity(
        [reaction, ("app_opened", "2023-06-01", 0, 1, None, None, None, "ios", None)]
    )
    writer.stage_activity([(*reaction[:3], 5, *reaction[4:8], "1"), reaction])
    assert writer.insert_staged_activity() == 2
    writer.finish()
    assert _activity(out) == [
        ("add_reaction", "2023-06-01", 0, 9, None, "7", None, "x", "1"),
        ("app_opened", "2023-06-01", 0, 1, None, None, None, "ios", None),
    ]
