"""The output writer: staged hourly inserts land in primary-key order with exact values."""

from __future__ import annotations

import sqlite3
from array import array
from pathlib import Path

from cordvault.insights.aggregate.build import day_text
from cordvault.insights.output.sqlite_writer import HourSeries, SqliteWriter


def _series(channel: str, guild: str | None, pairs: list[tuple[int, int]]) -> HourSeries:
    return HourSeries(
        channel, guild, array("q", [k for k, _ in pairs]), array("q", [n for _, n in pairs])
    )


def _activity(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM activity ORDER BY rowid").fetchall()


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


def test_insert_hourly_can_run_twice_and_mixes_with_plain_inserts(tmp_path: Path) -> None:
    out = tmp_path / "out.sqlite"
    writer = SqliteWriter(out)
    writer.insert_hourly("message_sent", [_series("1", None, [(-24 * 366, 3)])], day_text)
    writer.insert("activity", [("app_opened", "2020-01-01", 0, 4, None, None, None, "ios", None)])
    writer.insert_hourly("other_hourly", [_series("1", None, [(0, 1)])], day_text)
    _size, counts = writer.finish()
    assert counts["activity"] == 3
    rows = sorted(_activity(out))
    assert rows[0][:4] == ("app_opened", "2020-01-01", 0, 4)
    assert rows[1][:6] == ("message_sent", "1968-12-31", 0, 3, None, "1")
    assert rows[2][:4] == ("other_hourly", "1970-01-01", 0, 1)


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
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

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
