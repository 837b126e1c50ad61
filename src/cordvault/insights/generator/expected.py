"""The expected output tables of a generated package, by a plain reading of the semantics doc.

Values come from what the generator wrote (its plan, per-channel tallies and event tallies),
through an implementation of ``docs/insights-semantics.md`` that shares no code with the parser.
Rows of every table but the bulky ``message_sent`` activity rows are held as lists; those are
kept run-length encoded per channel and expanded only while writing expected.json, so memory
stays flat at millions of messages.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from cordvault.insights.generator.analytics import EventTally
from cordvault.insights.generator.clock import Clock
from cordvault.insights.generator.messages import ChannelStats
from cordvault.insights.generator.pairing import app_sessions, voice_sessions
from cordvault.insights.generator.people import avatar_url, display_name, tag
from cordvault.insights.generator.plan import Channel, Kind, Payment, Plan
from cordvault.insights.generator.variants import VariantSpec
from cordvault.insights.output.sqlite_schema import COLUMNS, SCHEMA_VERSION, TABLES

Row = list[Any]
TYPE_NAMES = {0: "GUILD_TEXT", 1: "DM", 2: "GUILD_VOICE", 3: "GROUP_DM", 4: "GUILD_CATEGORY",
              5: "GUILD_ANNOUNCEMENT", 10: "ANNOUNCEMENT_THREAD", 11: "PUBLIC_THREAD",
              12: "PRIVATE_THREAD", 13: "GUILD_STAGE_VOICE", 14: "GUILD_DIRECTORY",
              15: "GUILD_FORUM", 16: "GUILD_MEDIA"}  # fmt: skip
OUTPUT_TABLES = tuple(t for t in TABLES if t != "cordvault_meta")
DM_PREFIX = "Direct Message with "


@dataclass
class Expected:
    """What the analyser must produce for one generated package (see module doc)."""

    variant: str
    options: dict[str, object]
    error: str | None
    meta: dict[str, object]
    samples: dict[str, object]
    rows_by_table: dict[str, list[Row]] = field(default_factory=dict)
    # (channel id, guild id or None, Unix hour numbers, counts) for message_sent rows
    message_hours: list[tuple[str, str | None, Any, Any]] = field(default_factory=list)
    # The analytics tallies; their activity rows are expanded lazily too.
    event_tally: EventTally | None = None

    def rows(self, table: str) -> Iterator[Row]:
        """Rows of ``table`` in schema.COLUMNS order (message_sent rows expanded lazily)."""
        if table == "activity" and self.error is None:
            clock = Clock()
            for cid, gid, hours, counts in self.message_hours:
                for hour, count in zip(hours, counts, strict=True):
                    day = clock.day(hour // 24)
                    yield ["message_sent", day, hour % 24, count, None, cid, gid, None, None]
            if self.event_tally is not None:
                yield from _activity_rows(self.event_tally)
        yield from self.rows_by_table.get(table, [])

    @property
    def tables(self) -> dict[str, list[Row]]:
        """Every output table materialised (fine for test-sized packages)."""
        return {t: list(self.rows(t)) for t in OUTPUT_TABLES}

    def write_json(self, path: Path) -> None:
        """Stream expected.json (deterministic bytes for a given package)."""
        with path.open("wb") as out:
            head = {"format": 1, "variant": self.variant, "options": self.options,
                    "error": self.error, "meta": self.meta, "samples": self.samples}  # fmt: skip
            out.write(orjson.dumps(head, option=orjson.OPT_SORT_KEYS)[:-1])
            out.write(b',"tables":{')
            for i, table in enumerate(OUTPUT_TABLES):
                out.write(b"," if i else b"")
                out.write(orjson.dumps(table) + b":[")
                for j, row in enumerate(self.rows(table)):
                    out.write((b",\n" if j else b"\n") + orjson.dumps(row))
                out.write(b"]")
            out.write(b"}}\n")


def classify(channel: Channel) -> tuple[str, Kind]:
    """(type name, kind) by the doc's first-match rules."""
    code = channel.type_code
    type_name = TYPE_NAMES.get(code, f"UNKNOWN_{code}")
    recipients = channel.recipients or ()
    if channel.guild is not None:
        return type_name, "guild"
    if type_name == "DM" or (type_name.startswith("UNKNOWN_") and len(recipients) == 2):
        return type_name, "dm"
    if type_name == "GROUP_DM" or len(recipients) > 2:
        return type_name, "group"
    return type_name, "other"


def _sort_key(row: Row) -> tuple[tuple[int, Any], ...]:
    return tuple((0, "") if v is None else (1, v) for v in row)


def _dm_row(plan: Plan, ch: Channel, stats: ChannelStats, voice: int) -> Row:
    owner = plan.owner.id
    others = [r for r in ch.recipients or () if r != owner]
    user_id = others[0] if others else "0"
    friends = {p.id: p for p, _ in plan.relationships}
    friend = friends.get(user_id)
    legacy_discriminator: str | None = None
    if friend is not None:
        name = tag(friend.username, friend.discriminator)
        shown = display_name(friend.global_name)
        avatar = avatar_url(user_id, friend.avatar, friend.discriminator)
    else:
        shown = None
        if ch.index_name is not None and ch.index_name.startswith(DM_PREFIX):
            name = ch.index_name.removeprefix(DM_PREFIX)
            for suffix in ("#0000", "#0"):
                if name.endswith(suffix):
                    name = name.removesuffix(suffix)
                    break
            else:
                _head, sep, digits = name.rpartition("#")
                if sep and len(digits) == 4 and digits.isdigit():
                    legacy_discriminator = digits
        else:
            name = user_id  # "Deleted User" stays as given; a bare id otherwise
        avatar = avatar_url(user_id, None, legacy_discriminator)
    sentiment = round(stats.compound_sum / stats.scored, 4) if stats.scored else 0.0
    return [ch.id, user_id, name, shown, avatar, stats.count, voice, sentiment]


def _payment_rows(payments: list[Payment]) -> list[Row]:
    seen: set[str] = set()
    rows: list[Row] = []
    for p in payments:
        if p.id in seen:
            continue
        seen.add(p.id)
        if p.status != 1 or p.currency.lower() == "discord_orb":
            continue
        day = datetime.fromisoformat(p.created_at).astimezone(UTC).date().isoformat()
        rows.append([p.id, day, p.amount, p.currency.lower(), p.description or ""])
    return rows


def build_expected(
    spec: VariantSpec,
    options: dict[str, object],
    plan: Plan,
    stats: dict[str, ChannelStats],
    tally: EventTally | None,
    payments: list[Payment],
    meta: dict[str, object],
) -> Expected:
    """Expected tables from what was written. ``stats`` holds channels with a channel.json."""
    samples: dict[str, object] = {
        "first_message_ids": {cid: str(s.first_id) for cid, s in stats.items() if s.first_id}
    }
    if not spec.has("account"):
        return Expected(spec.name, options, "MISSING_USER_DATA", meta, samples)
    timed = tally.timed if tally is not None else []
    voice = voice_sessions(timed)
    voice_minutes: dict[str, int] = defaultdict(int)
    for cid, _gid, mins, _s, _e in voice:
        voice_minutes[cid] += mins
    tables: dict[str, list[Row]] = {t: [] for t in OUTPUT_TABLES}
    tables["voice_sessions"] = [[c, g, m, str(s), str(e)] for c, g, m, s, e in voice]
    tables["sessions"] = [[str(s), str(e), m, os] for s, e, m, os in app_sessions(timed)]
    tables["payments"] = _payment_rows(payments)

    message_hours: list[tuple[str, str | None, Any, Any]] = []
    guild_counts: dict[str, int] = defaultdict(int)
    guild_names: dict[str, str] = {}
    for ch in plan.channels:
        s = stats[ch.id]
        _type_name, kind = classify(ch)
        gid = ch.guild.id if kind == "guild" and ch.guild else None
        message_hours.append((ch.id, gid, s.hours[::-1], s.hour_counts[::-1]))
        minutes = voice_minutes.get(ch.id, 0)
        if kind == "dm":
            tables["dm_channels_data"].append(_dm_row(plan, ch, s, minutes))
        elif kind == "group":
            others = [r for r in ch.recipients or () if r != plan.owner.id]
            name = ch.name if ch.name is not None else ch.index_name
            recipients = json.dumps(others, separators=(",", ":"), ensure_ascii=False)
            count = len(ch.recipients or ())
            tables["group_dm_channels_data"].append(
                [ch.id, name, count, recipients, s.count, minutes]
            )
        elif kind == "guild" and ch.guild is not None:
            name = ch.name
            if name is None and ch.index_name and " in " in ch.index_name:
                name = ch.index_name.split(" in ", 1)[0]
            tables["guild_channels_data"].append([ch.id, name or ch.id, ch.guild.id, s.count,
                                                  minutes])  # fmt: skip
            guild_counts[ch.guild.id] += s.count
            if ch.guild.name and ch.guild.id not in guild_names:
                guild_names[ch.guild.id] = ch.guild.name
    listed = {g.id: g.name for g in plan.guilds if g.joined} if spec.has("servers") else {}
    for gid in sorted(set(listed) | set(guild_counts)):
        name = listed.get(gid) or guild_names.get(gid) or "Unknown server"
        tables["guilds"].append([gid, name, guild_counts.get(gid, 0)])

    owner = plan.owner
    partial = int(meta["sections"] != ["account", "activity", "messages", "servers"]
                  or not tally or tally.events == 0)  # fmt: skip
    tables["package_data"] = [["local", SCHEMA_VERSION, owner.id,
                               tag(owner.username, owner.discriminator),
                               display_name(owner.global_name),
                               avatar_url(owner.id, owner.avatar, owner.discriminator),
                               partial]]  # fmt: skip
    for table, rows in tables.items():
        if table != "package_data":
            rows.sort(key=_sort_key)
        for row in rows:
            assert len(row) == len(COLUMNS[table]), table
    return Expected(spec.name, options, None, meta, samples, tables, message_hours, tally)


def _activity_rows(tally: EventTally) -> Iterator[Row]:
    """Analytics-derived activity rows, in the tallies' (seeded, deterministic) key order."""
    clock = Clock()
    for (gid, hour), n in tally.guild_joined.items():
        yield ["guild_joined", clock.day(hour // 24), hour % 24, n, None, None, gid, None, None]
    for (day, app, gid), n in tally.commands.items():
        yield ["application_command_used", clock.day(day), 0, n, app, None, gid, None, None]
    for key, n in tally.reactions.items():
        day, cid, emoji = key
        custom = "1" if key in tally.custom_reactions else "0"
        yield ["add_reaction", clock.day(day), 0, n, None, cid, None, emoji, custom]
    for (day, os), n in tally.app_opened.items():
        yield ["app_opened", clock.day(day), 0, n, None, None, None, os, None]
    for (name, day), n in tally.plain.items():
        yield [name, clock.day(day), 0, n, None, None, None, None, None]
