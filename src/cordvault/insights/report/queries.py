"""Reading an insights SQLite into the plain data the report shows.

All SQL of the report lives here. The database is opened read-only and is never modified.
Values keep their meaning from ``docs/insights-semantics.md``: messages are the ``message_sent``
activity counters (they include channels that are neither DMs nor guild channels), voice and
session durations are whole minutes, payment amounts are minor units.

Error contract: a missing file -> ``CordvaultError(NOT_FOUND)``; a file that is not SQLite or
lacks one of the reference tables -> ``CordvaultError(INVALID_INPUT)``. Our own optional tables
(``group_dm_channels_data``, ``cordvault_meta``) may be absent (a database written by the
reference server): the report then shows them as empty.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cordvault.core.errors import CordvaultError, ErrorCode

TOP_N = 10
REQUIRED_TABLES = (
    "activity",
    "dm_channels_data",
    "guild_channels_data",
    "guilds",
    "payments",
    "voice_sessions",
    "sessions",
    "package_data",
)
# The sections a complete package has (names as written to cordvault_meta "sections").
ALL_SECTIONS = ("account", "activity", "messages", "servers")


@dataclass(frozen=True)
class Owner:
    """The package owner (``package_data``); empty strings when the row is missing."""

    user_id: str
    name: str
    display_name: str | None
    package_version: str
    is_partial: bool


@dataclass(frozen=True)
class Ranked:
    """One row of a top-N list: who/what, an optional second line, and the ranked count."""

    key: str
    label: str
    sublabel: str | None
    count: int
    minutes: int = 0


@dataclass(frozen=True)
class Spending:
    """Successful payments in one currency (``amount_minor`` in minor units)."""

    currency: str
    amount_minor: int
    payments: int


@dataclass(frozen=True)
class Payment:
    """One payment, for the payments table."""

    date: str
    amount_minor: int
    currency: str
    description: str


@dataclass(frozen=True)
class OsUsage:
    """App sessions on one OS."""

    os: str
    sessions: int
    minutes: int


@dataclass
class ReportData:
    """Everything the report and the CLI summary show, read once from the database."""

    owner: Owner
    messages: int = 0
    first_day: str | None = None
    last_day: str | None = None
    dm_count: int = 0
    group_dm_count: int = 0
    guild_count: int = 0
    channel_count: int = 0
    voice_minutes: int = 0
    voice_sessions: int = 0
    session_count: int = 0
    session_minutes: int = 0
    per_month: list[tuple[str, int]] = field(default_factory=list)
    per_hour: list[int] = field(default_factory=lambda: [0] * 24)
    top_dms: list[Ranked] = field(default_factory=list)
    top_channels: list[Ranked] = field(default_factory=list)
    top_guilds: list[Ranked] = field(default_factory=list)
    top_group_dms: list[Ranked] = field(default_factory=list)
    top_voice: list[Ranked] = field(default_factory=list)
    sessions_by_os: list[OsUsage] = field(default_factory=list)
    spending: list[Spending] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def missing_sections(self) -> list[str]:
        """Sections the package lacked, from ``cordvault_meta`` (empty when unknown)."""
        raw = self.meta.get("sections")
        if raw is None:
            return []
        try:
            present = json.loads(raw)
        except ValueError:
            return []
        if not isinstance(present, list):
            return []
        return [s for s in ALL_SECTIONS if s not in present]


@contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """Open ``path`` read-only and check it is an insights database."""
    if not path.is_file():
        raise CordvaultError(ErrorCode.NOT_FOUND, "the insights database file does not exist")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "cannot open the insights database") from exc
    with closing(conn):
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "the file is not an SQLite database"
            ) from exc
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "not an insights database: missing table(s) " + ", ".join(missing),
            )
        yield conn


def load_report_data(path: Path, *, summary_only: bool = False) -> ReportData:
    """Read every figure of the report from the insights database at ``path``.

    ``summary_only`` reads just the totals the CLI summary shows (no charts, no rankings):
    a few index lookups instead of scans of the whole activity table.
    """
    with open_readonly(path) as conn:
        try:
            return _load_summary(conn) if summary_only else _load(conn)
        except sqlite3.DatabaseError as exc:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "the insights database could not be read"
            ) from exc


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _scalar(conn: sqlite3.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0] or 0) if row else 0


def _load_summary(conn: sqlite3.Connection) -> ReportData:
    data = ReportData(owner=_owner(conn))
    _load_meta(conn, data)
    # min() and max() each alone are answered from the primary-key index, not by a scan.
    data.first_day, data.last_day = (
        conn.execute(
            f"SELECT {bound}(day) FROM activity WHERE event_name = 'message_sent'"
        ).fetchone()[0]
        for bound in ("min", "max")
    )
    # Our own databases record the total; others (a reference server's) are summed.
    total = data.meta.get("messages_total", "")
    data.messages = (
        int(total)
        if total.isdigit()
        else _scalar(
            conn,
            "SELECT coalesce(sum(occurence_count), 0) FROM activity"
            " WHERE event_name = 'message_sent'",
        )
    )
    _load_totals(conn, data)
    return data


def _load_meta(conn: sqlite3.Connection, data: ReportData) -> None:
    if _has_table(conn, "cordvault_meta"):
        data.meta = {
            str(k): str(v) for k, v in conn.execute("SELECT key, value FROM cordvault_meta")
        }


def _load_totals(conn: sqlite3.Connection, data: ReportData) -> None:
    """The counts and sums both the summary and the report show."""
    data.dm_count = _scalar(conn, "SELECT count(*) FROM dm_channels_data")
    data.guild_count = _scalar(conn, "SELECT count(*) FROM guilds")
    data.channel_count = _scalar(conn, "SELECT count(*) FROM guild_channels_data")
    data.voice_sessions, data.voice_minutes = conn.execute(
        "SELECT count(*), coalesce(sum(duration_mins), 0) FROM voice_sessions"
    ).fetchone()
    data.session_count, data.session_minutes = conn.execute(
        "SELECT count(*), coalesce(sum(duration_mins), 0) FROM sessions"
    ).fetchone()
    if _has_table(conn, "group_dm_channels_data"):
        data.group_dm_count = _scalar(conn, "SELECT count(*) FROM group_dm_channels_data")
    data.spending = [
        Spending(currency=r[0], amount_minor=r[1], payments=r[2])
        for r in conn.execute(
            "SELECT lower(payment_currency), sum(payment_amount), count(*) FROM payments"
            " GROUP BY lower(payment_currency) ORDER BY count(*) DESC, 1"
        )
    ]


def _load(conn: sqlite3.Connection) -> ReportData:
    data = ReportData(owner=_owner(conn))
    row = conn.execute(
        "SELECT coalesce(sum(occurence_count), 0), min(day), max(day)"
        " FROM activity WHERE event_name = 'message_sent'"
    ).fetchone()
    data.messages, data.first_day, data.last_day = int(row[0]), row[1], row[2]
    _load_totals(conn, data)
    data.per_month = _per_month(conn)
    for hour, count in conn.execute(
        "SELECT hour, sum(occurence_count) FROM activity"
        " WHERE event_name = 'message_sent' AND hour BETWEEN 0 AND 23 GROUP BY hour"
    ):
        data.per_hour[int(hour)] = int(count)
    data.top_dms = [
        Ranked(key=r[0], label=r[1], sublabel=r[2], count=r[3], minutes=r[4])
        for r in conn.execute(
            "SELECT dm_user_id, user_name, display_name, total_message_count,"
            " total_voice_channel_duration FROM dm_channels_data"
            " ORDER BY total_message_count DESC, user_name LIMIT ?",
            (TOP_N,),
        )
    ]
    data.top_channels = [
        Ranked(key=r[0], label=r[1], sublabel=r[2], count=r[3], minutes=r[4])
        for r in conn.execute(
            "SELECT c.channel_id, c.channel_name, coalesce(g.guild_name, c.guild_id),"
            " c.total_message_count, c.total_voice_channel_duration"
            " FROM guild_channels_data c LEFT JOIN guilds g ON g.guild_id = c.guild_id"
            " ORDER BY c.total_message_count DESC, c.channel_name LIMIT ?",
            (TOP_N,),
        )
    ]
    data.top_guilds = [
        Ranked(key=r[0], label=r[1], sublabel=None, count=r[2])
        for r in conn.execute(
            "SELECT guild_id, guild_name, total_message_count FROM guilds"
            " ORDER BY total_message_count DESC, guild_name LIMIT ?",
            (TOP_N,),
        )
    ]
    if _has_table(conn, "group_dm_channels_data"):
        data.top_group_dms = [
            Ranked(
                key=r[0],
                label=r[1] or f"Unnamed group ({r[2]} members)",
                sublabel=f"{r[2]} members",
                count=r[3],
                minutes=r[4],
            )
            for r in conn.execute(
                "SELECT channel_id, name, recipient_count, total_message_count,"
                " total_voice_channel_duration FROM group_dm_channels_data"
                " ORDER BY total_message_count DESC, name LIMIT ?",
                (TOP_N,),
            )
        ]
    data.top_voice = _top_voice(conn)
    data.sessions_by_os = [
        OsUsage(os=r[0], sessions=r[1], minutes=r[2])
        for r in conn.execute(
            "SELECT device_os, count(*), coalesce(sum(duration_mins), 0) FROM sessions"
            " GROUP BY device_os ORDER BY count(*) DESC, device_os"
        )
    ]
    data.payments = [
        Payment(date=r[0], amount_minor=r[1], currency=r[2], description=r[3])
        for r in conn.execute(
            "SELECT payment_date, payment_amount, lower(payment_currency), payment_description"
            " FROM payments ORDER BY payment_date DESC, payment_id"
        )
    ]
    _load_meta(conn, data)
    return data


def _owner(conn: sqlite3.Connection) -> Owner:
    row = conn.execute(
        "SELECT package_owner_id, package_owner_name, package_owner_display_name,"
        " package_version, package_is_partial FROM package_data LIMIT 1"
    ).fetchone()
    if row is None:
        return Owner(user_id="", name="", display_name=None, package_version="", is_partial=True)
    return Owner(
        user_id=str(row[0]),
        name=str(row[1]),
        display_name=row[2] or None,
        package_version=str(row[3]),
        is_partial=bool(row[4]),
    )


def _per_month(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Messages per calendar month, with the empty months in between filled with 0."""
    counts = {
        str(month): int(total)
        for month, total in conn.execute(
            "SELECT substr(day, 1, 7), sum(occurence_count) FROM activity"
            " WHERE event_name = 'message_sent' GROUP BY 1 ORDER BY 1"
        )
    }
    if not counts:
        return []
    months = sorted(counts)
    try:
        year, month = (int(x) for x in months[0].split("-"))
        last = tuple(int(x) for x in months[-1].split("-"))
    except ValueError:  # a malformed day: show what is there, unfilled
        return [(m, counts[m]) for m in months]
    out: list[tuple[str, int]] = []
    while (year, month) <= last:
        key = f"{year:04d}-{month:02d}"
        out.append((key, counts.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _top_voice(conn: sqlite3.Connection) -> list[Ranked]:
    """Channels with the most voice minutes, named from the channel tables where known."""
    # Reference-server databases have no group DM table: join an empty stand-in instead.
    groups = (
        "group_dm_channels_data"
        if _has_table(conn, "group_dm_channels_data")
        else "(SELECT NULL AS channel_id, NULL AS name, 0 AS recipient_count WHERE 0)"
    )
    rows = conn.execute(
        "SELECT v.channel_id,"
        " coalesce(c.channel_name, d.user_name, gd.name,"
        "   CASE WHEN gd.channel_id IS NOT NULL"
        "   THEN 'Unnamed group (' || gd.recipient_count || ' members)' END, v.channel_id),"
        " CASE WHEN d.channel_id IS NOT NULL THEN 'Direct message'"
        "   WHEN gd.channel_id IS NOT NULL THEN 'Group DM'"
        "   ELSE coalesce(g.guild_name, v.guild_id, 'Call') END,"
        " count(*), sum(v.duration_mins)"
        " FROM voice_sessions v"
        " LEFT JOIN guild_channels_data c ON c.channel_id = v.channel_id"
        " LEFT JOIN dm_channels_data d ON d.channel_id = v.channel_id"
        f" LEFT JOIN {groups} gd ON gd.channel_id = v.channel_id"
        " LEFT JOIN guilds g ON g.guild_id = coalesce(v.guild_id, c.guild_id)"
        " GROUP BY v.channel_id ORDER BY sum(v.duration_mins) DESC, v.channel_id LIMIT ?",
        (TOP_N,),
    )
    return [Ranked(key=r[0], label=r[1], sublabel=r[2], count=r[3], minutes=r[4]) for r in rows]
