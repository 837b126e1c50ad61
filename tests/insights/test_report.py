"""The HTML insights report and the CLI summary, on real insights SQLite databases."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.output.sqlite_schema import COLUMNS, INDEXES, SCHEMA_VERSION, TABLES
from cordvault.insights.report import render_report, report_summary
from cordvault.insights.report.money import format_amount

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _create(path: Path, rows: dict[str, Iterable[Sequence[object]]]) -> Path:
    """An insights database built with the real schema DDL and the given rows."""
    with sqlite3.connect(path) as conn:
        for ddl in TABLES.values():
            conn.execute(ddl)
        for table, table_rows in rows.items():
            cols = COLUMNS[table]
            values = [tuple(row) for row in table_rows]
            if table == "activity":  # the physical order key: unique per row is enough here
                cols = (*cols, "cordvault_order")
                values = [(*row, i) for i, row in enumerate(values)]
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                values,
            )
        for index in INDEXES:
            conn.execute(index)
    conn.close()
    return path


def _package_row(
    name: str = "ada", display: str | None = "Ada L", partial: int = 0
) -> tuple[object, ...]:
    return (
        "d6c6e3a438a2fccea7ae3f95b101dbf5",
        SCHEMA_VERSION,
        "1000",
        name,
        display,
        None,
        partial,
    )


def _full_db(path: Path) -> Path:
    activity: list[tuple[object, ...]] = [
        # 2023-11: 40 messages in a guild channel at 09h, 5 in a DM at 22h
        ("message_sent", "2023-11-03", 9, 40, None, "300", "200", None, None),
        ("message_sent", "2023-11-04", 22, 5, None, "100", None, None, None),
        # nothing in 2023-12: the month must still appear with 0
        ("message_sent", "2024-01-15", 9, 1234, None, "301", "200", None, None),
        ("message_sent", "2024-01-15", 10, 7, None, "101", None, None, None),
        ("message_sent", "2024-01-16", 23, 3, None, "400", None, None, None),
        # other events must not count as messages
        ("app_opened", "2024-01-16", 0, 99, None, None, None, "windows", None),
    ]
    dms = [
        ("100", "5001", "bob", "Bobby", None, 5, 30, 0.25),
        ("101", "5002", XSS, None, None, 7, 0, 0.0),
    ]
    group_dms = [("400", None, 4, json.dumps(["5001", "5003", "5004"]), 3, 90)]
    channels = [
        ("300", "general", "200", 40, 0),
        ("301", "memes <b>", "200", 1234, 125),
    ]
    guilds = [("200", "Rust Guild", 1274), ("201", "Quiet Server", 0)]
    payments = [
        ("p1", "2023-05-01", 999, "usd", "Nitro Classic"),
        ("p2", "2023-06-01", 1999, "usd", "Nitro"),
        ("p3", "2023-07-01", 500, "eur", XSS),
        ("p4", "2023-08-01", 1500, "jpy", "Server Boost"),
    ]
    voice = [
        ("301", "200", 125, "1705309200", "1705316700"),
        ("100", None, 30, "1699000000", "1699001800"),
        ("400", None, 90, "1705400000", "1705405400"),
    ]
    sessions = [
        ("1705300000", "1705303600", 60, "windows"),
        ("1705310000", "1705311800", 30, "windows"),
        ("1705320000", "1705320600", 10, "ios"),
    ]
    meta = [
        ("schema_version", SCHEMA_VERSION),
        ("sections", json.dumps(["account", "activity", "messages", "servers"])),
        ("malformed_messages", "3"),
        ("analytics_files", "2"),
    ]
    return _create(
        path,
        {
            "activity": activity,
            "dm_channels_data": dms,
            "group_dm_channels_data": group_dms,
            "guild_channels_data": channels,
            "guilds": guilds,
            "payments": payments,
            "voice_sessions": voice,
            "sessions": sessions,
            "package_data": [_package_row()],
            "cordvault_meta": meta,
        },
    )


class _Resources(HTMLParser):
    """Collects every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href", "xlink:href", "srcset", "action", "poster", "data"}:
                self.refs.append(value or "")


def _render(tmp_path: Path, db: Path) -> str:
    out = tmp_path / "report.html"
    render_report(db, out)
    return out.read_text(encoding="utf-8")


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.DOTALL)
    assert match, section_id
    return match.group(0)


def test_headline_numbers(tmp_path: Path) -> None:
    html = _render(tmp_path, _full_db(tmp_path / "i.sqlite"))
    cards = html[html.index('<div class="cards">') : html.index("</div>\n\n")]
    assert '<div class="value">1,289</div><div class="label">messages sent' in cards
    assert '<div class="value">2</div><div class="label">direct messages' in cards
    assert '<div class="value">1</div><div class="label">group DMs' in cards
    assert '<div class="value">2</div><div class="label">servers' in cards
    assert '<div class="value">2</div><div class="label">server channels' in cards
    assert '<div class="value">4.1 h</div><div class="label">in voice (3 calls)' in cards
    assert '<div class="value">3</div><div class="label">app sessions (1.7 h)' in cards
    # minor units -> major units, per currency, JPY without decimals
    assert '29.98 USD</div><div class="label">spent in 2 payments' in cards
    assert '5.00 EUR</div><div class="label">spent in 1 payment<' in cards
    assert "1,500 JPY" in cards
    assert "Ada L" in html
    assert "messages from 2023-11-03 to 2024-01-16" in html


def test_rankings_and_charts(tmp_path: Path) -> None:
    html = _render(tmp_path, _full_db(tmp_path / "i.sqlite"))
    channels = _section(html, "top-channels")
    assert channels.index("memes &lt;b&gt;") < channels.index("general")
    assert "1,234" in channels
    assert "in Rust Guild" in channels
    dms = _section(html, "top-dms")
    assert dms.index("&lt;script&gt;") < dms.index("bob")  # 7 messages before 5
    servers = _section(html, "top-servers")
    assert servers.index("Rust Guild") < servers.index("Quiet Server")
    groups = _section(html, "group-dms")
    assert "Unnamed group (4 members)" in groups
    voice = _section(html, "voice")
    voice = voice[voice.index("<table>") :]
    assert voice.index("memes &lt;b&gt;") < voice.index("Unnamed group") < voice.index("bob")
    assert "2.1 h" in voice
    assert "Direct message" in voice
    sessions = _section(html, "sessions")
    assert re.search(
        r"<td>windows</td><td class=\"num\">2</td><td class=\"num\">1.5 h</td>", sessions
    )
    spending = _section(html, "spending")
    assert "All 4 payments" in spending
    assert "9.99 USD" in spending
    assert "Nitro Classic" in spending
    # per-month chart: three consecutive months including the empty 2023-12
    month = _section(html, "messages-per-month")
    assert "<svg" in month
    for label in ("2023-11", "2023-12", "2024-01"):
        assert label in month
    assert re.findall(r'<desc class="value">([^<]*)</desc>', month) == ["45", "0", "1,244"]
    hour = _section(html, "messages-by-hour")
    per_hour = re.findall(r'<desc class="value">([^<]*)</desc>', hour)
    assert len(per_hour) == 24
    assert (per_hour[9], per_hour[10], per_hour[22], per_hour[23]) == ("1,274", "7", "5", "3")
    assert per_hour.count("0") == 20
    notes = _section(html, "notes")
    assert "3 message rows could not be read" in notes


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    db = _full_db(tmp_path / "i.sqlite")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE package_data SET package_owner_display_name = ?", (XSS,))
        conn.execute("UPDATE sessions SET device_os = ? WHERE device_os = 'ios'", (XSS,))
        conn.execute("UPDATE guilds SET guild_name = ? WHERE guild_id = '201'", (XSS,))
    conn.close()
    html = _render(tmp_path, db)
    parser = _Resources()
    parser.feed(html)
    assert "img" not in parser.tags
    assert parser.tags.count("script") == 1  # our own inline script only
    assert "<script>alert" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(" in html
    # the OS string also reaches the pygal chart, escaped there too
    assert html.count("&lt;script&gt;alert(") >= 5


def test_self_contained(tmp_path: Path) -> None:
    html = _render(tmp_path, _full_db(tmp_path / "i.sqlite"))
    parser = _Resources()
    parser.feed(html)
    assert parser.refs == []
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", html, re.IGNORECASE)
    assert "default-src 'none'" in html  # the browser refuses any fetch we might have missed
    assert "cdn.discordapp.com" not in html


def test_empty_database(tmp_path: Path) -> None:
    db = _create(tmp_path / "empty.sqlite", {"package_data": [_package_row(display=None)]})
    html = _render(tmp_path, db)
    assert '<div class="value">0</div><div class="label">messages sent' in html
    assert "no messages in this package" in html
    assert "<svg" not in html
    for empty in ("No messages.", "No direct messages.", "No payments.", "No voice calls."):
        assert empty in html
    assert "nothing is known about skipped data" in html  # no cordvault_meta rows
    rows = dict(report_summary(db))
    assert rows["Messages"] == "0"
    assert rows["Spent"] == "nothing"
    assert "Date range" not in rows


def test_database_without_package_row_or_optional_tables(tmp_path: Path) -> None:
    """A reference-server database: no group DMs table, no cordvault_meta, no rows."""
    db = tmp_path / "ref.sqlite"
    with sqlite3.connect(db) as conn:
        for name, ddl in TABLES.items():
            if name not in {"group_dm_channels_data", "cordvault_meta"}:
                conn.execute(ddl)
    conn.close()
    html = _render(tmp_path, db)
    assert "Discord account" in html
    assert "No group DMs." in html
    assert "This package is partial" in html


def test_partial_package_names_missing_sections(tmp_path: Path) -> None:
    db = _create(
        tmp_path / "p.sqlite",
        {
            "package_data": [_package_row(partial=1)],
            "cordvault_meta": [
                ("sections", json.dumps(["account", "messages"])),
                ("analytics_files", "0"),
            ],
        },
    )
    notes = _section(_render(tmp_path, db), "notes")
    assert "no activity, servers section" in notes
    assert "no analytics files" in notes
    assert dict(report_summary(db))["Partial package"] == "yes"


def test_summary_rows(tmp_path: Path) -> None:
    rows = report_summary(_full_db(tmp_path / "i.sqlite"))
    assert rows[0] == ("Account", "ada (Ada L)")
    as_dict = dict(rows)
    assert as_dict["Messages"] == "1,289"
    assert as_dict["Date range"] == "2023-11-03 to 2024-01-16"
    assert as_dict["DMs"] == "2"
    assert as_dict["Group DMs"] == "1"
    assert as_dict["Servers"] == "2"
    assert as_dict["Channels"] == "2"
    assert as_dict["Voice"] == "4.1 h in 3 calls"
    assert as_dict["Sessions"] == "3 (1.7 h)"
    assert as_dict["Spent (USD)"] == "29.98 USD in 2 payments"
    assert as_dict["Spent (EUR)"] == "5.00 EUR in 1 payment"
    assert as_dict["Spent (JPY)"] == "1,500 JPY in 1 payment"
    assert as_dict["Partial package"] == "no"


def test_bad_inputs(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(CordvaultError) as info:
        render_report(tmp_path / "missing.sqlite", out)
    assert info.value.code is ErrorCode.NOT_FOUND
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CordvaultError) as info:
        render_report(junk, out)
    assert info.value.code is ErrorCode.INVALID_INPUT
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(CordvaultError) as info:
        report_summary(other)
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert "activity" in info.value.message
    with pytest.raises(CordvaultError) as info:
        render_report(_full_db(tmp_path / "ok.sqlite"), tmp_path / "no-such-dir" / "r.html")
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_render_does_not_modify_the_database(tmp_path: Path) -> None:
    db = _full_db(tmp_path / "i.sqlite")
    before = db.read_bytes()
    _render(tmp_path, db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.sqlite", "report.html"]


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (0, "usd", "0.00 USD"),
        (1999, "usd", "19.99 USD"),
        (123456789, "eur", "1,234,567.89 EUR"),
        (-500, "gbp", "-5.00 GBP"),
        (1500, "jpy", "1,500 JPY"),
        (1234, "kwd", "1.234 KWD"),
        (5, "xyz", "0.05 XYZ"),
    ],
)
def test_format_amount(minor: int, currency: str, shown: str) -> None:
    assert format_amount(minor, currency) == shown


def test_horizontal_charts_put_the_largest_on_top(tmp_path: Path) -> None:
    html = _render(tmp_path, _full_db(tmp_path / "i.sqlite"))
    voice = _section(html, "voice")
    bars = re.findall(
        r'<rect x="[^"]*" y="([^"]*)"[^>]*tooltip-trigger" /><desc class="value">([^<]*)</desc>',
        voice,
    )
    by_top = [value for _, value in sorted(bars, key=lambda b: float(b[0]))]
    assert by_top == ["2.1 h", "1.5 h", "0.5 h"]
