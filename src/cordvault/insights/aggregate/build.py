"""Building every output table's rows from the parsed package (``docs/insights-semantics.md``).

Pure functions over plain data: no I/O, so the rules are easy to read and to test.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import orjson

from cordvault import __version__
from cordvault.insights.aggregate.pairing import AppSession, VoiceSession
from cordvault.insights.output.sqlite_schema import SCHEMA_VERSION
from cordvault.insights.output.sqlite_writer import HourSeries
from cordvault.insights.package.account import Account, avatar_url, payment_day
from cordvault.insights.package.analytics import AnalyticsPartial
from cordvault.insights.package.channels import (
    ChannelInfo,
    ChannelKind,
    dm_index_name,
    guild_channel_index_name,
)
from cordvault.insights.package.messages import ChannelStats

Row = tuple[object, ...]
_EPOCH = date(1970, 1, 1)


@dataclass
class PackageFacts:
    """Everything parsed from one package, ready to be turned into rows."""

    package_id: str
    account: Account
    sections: list[str]
    channels: dict[str, ChannelInfo]  # channel id -> channel.json facts
    stats: dict[str, ChannelStats]  # channel id -> message stats
    messages_index: dict[str, str | None]
    servers_index: dict[str, str | None]
    analytics: AnalyticsPartial
    voice: list[VoiceSession]
    sessions: list[AppSession]
    analytics_files: int = 0
    message_files_json: int = 0
    message_files_csv: int = 0
    channels_without_metadata: int = 0
    extra_meta: dict[str, str] = field(default_factory=dict)

    @property
    def is_partial(self) -> bool:
        full = {"account", "activity", "messages", "servers"} <= set(self.sections)
        return not full or self.analytics.events == 0


def _unix(ts: str | None) -> str:
    if ts is None:
        return ""
    return str(calendar.timegm(time.strptime(ts, "%Y-%m-%d %H:%M:%S")))


@lru_cache(maxsize=100_000)
def day_text(epoch_day: int) -> str:
    """``YYYY-MM-DD`` of a day number (days since 1970-01-01)."""
    return (_EPOCH + timedelta(days=epoch_day)).isoformat()


def message_sent_series(
    channels: dict[str, ChannelInfo], stats: dict[str, ChannelStats]
) -> Iterator[HourSeries]:
    """The message_sent activity rows as one hourly series per channel (the writer sorts
    them into primary-key order). Needs only the message results, so it can be written
    before the analytics are done."""
    for channel_id, channel_stats in stats.items():
        info = channels.get(channel_id)
        guild = info.guild_id if info is not None and info.kind is ChannelKind.GUILD else None
        yield HourSeries(channel_id, guild, channel_stats.hour_keys, channel_stats.hour_counts)


def event_count_rows(a: AnalyticsPartial) -> Iterator[Row]:
    """The activity rows (all but message_sent) of some analytics, unordered, one at a time.
    Rows of several partials with the same primary key add up (``occurence_count`` summed,
    the custom-emoji flag ``extra_field_2`` is "1" if any says so): the writer's staged
    activity does exactly that, so each shard's rows can be written as soon as it is
    scanned."""
    for (guild, day, hour), count in a.guild_joined.items():
        yield ("guild_joined", day, hour, count, None, None, guild, None, None)
    for (day, app_id, guild), count in a.app_commands.items():
        yield ("application_command_used", day, 0, count, app_id, None, guild, None, None)
    for reaction, count in a.reactions.items():
        day, channel, emoji = reaction
        custom = "1" if reaction in a.custom_reactions else "0"
        yield ("add_reaction", day, 0, count, None, channel, None, emoji, custom)
    for (day, os_name), count in a.app_opened.items():
        yield ("app_opened", day, 0, count, None, None, None, os_name, None)
    for (event, day), count in a.per_day.items():
        yield (event, day, 0, count, None, None, None, None, None)


def _voice_minutes(voice: Iterable[VoiceSession]) -> dict[str, int]:
    minutes: dict[str, int] = defaultdict(int)
    for session in voice:
        minutes[session.channel_id] += session.minutes
    return minutes


def dm_rows(facts: PackageFacts) -> list[Row]:
    owner = facts.account.owner.id
    voice = _voice_minutes(facts.voice)
    rows: list[Row] = []
    for channel_id, info in sorted(facts.channels.items()):
        if info.kind is not ChannelKind.DM:
            continue
        other = next((r for r in info.recipients if r != owner), "0")
        rel = facts.account.relationships.get(other)
        index_name, legacy = dm_index_name(facts.messages_index.get(channel_id))
        if rel is not None and rel.username:
            user_name, display, avatar = rel.tag, rel.global_name, rel.avatar_url
        else:
            if index_name:
                user_name = index_name
            elif other == "Deleted User":
                user_name = "Deleted User"
            else:
                user_name = other
            display, avatar = None, avatar_url(other, None, legacy)
        stats = facts.stats.get(channel_id, ChannelStats())
        score = (
            round(stats.sentiment_total / stats.sentiment_count, 4)
            if stats.sentiment_count
            else 0.0
        )
        rows.append(
            (
                channel_id,
                other,
                user_name,
                display,
                avatar,
                stats.count,
                voice.get(channel_id, 0),
                score,
            )
        )
    return rows


def group_dm_rows(facts: PackageFacts) -> list[Row]:
    owner = facts.account.owner.id
    voice = _voice_minutes(facts.voice)
    rows: list[Row] = []
    for channel_id, info in sorted(facts.channels.items()):
        if info.kind is not ChannelKind.GROUP_DM:
            continue
        others = [r for r in info.recipients if r != owner]
        name = info.name or facts.messages_index.get(channel_id) or None
        stats = facts.stats.get(channel_id, ChannelStats())
        rows.append(
            (
                channel_id,
                name,
                len(info.recipients),
                orjson.dumps(others).decode(),
                stats.count,
                voice.get(channel_id, 0),
            )
        )
    return rows


def guild_channel_rows(facts: PackageFacts) -> list[Row]:
    voice = _voice_minutes(facts.voice)
    rows: list[Row] = []
    for channel_id, info in sorted(facts.channels.items()):
        if info.kind is not ChannelKind.GUILD or info.guild_id is None:
            continue
        name = (
            info.name
            or guild_channel_index_name(facts.messages_index.get(channel_id))
            or channel_id
        )
        stats = facts.stats.get(channel_id, ChannelStats())
        rows.append((channel_id, name, info.guild_id, stats.count, voice.get(channel_id, 0)))
    return rows


def guild_rows(facts: PackageFacts) -> list[Row]:
    names: dict[str, str | None] = {g: n or None for g, n in facts.servers_index.items()}
    counts: dict[str, int] = defaultdict(int)
    for channel_id, info in sorted(facts.channels.items()):
        if info.kind is not ChannelKind.GUILD or info.guild_id is None:
            continue
        gid = info.guild_id
        if names.get(gid) is None:
            names[gid] = info.guild_name
        stats = facts.stats.get(channel_id)
        counts[gid] += stats.count if stats is not None else 0
    return [(gid, names[gid] or "Unknown server", counts.get(gid, 0)) for gid in sorted(names)]


def payment_rows(facts: PackageFacts) -> list[Row]:
    rows: list[Row] = []
    for p in facts.account.payments:
        if p.status != 1 or p.currency == "discord_orb":
            continue
        day = payment_day(p.created_at)
        if day is None:
            continue
        rows.append((p.id, day, p.amount, p.currency, p.description))
    return sorted(rows, key=lambda r: str(r[0]))


def voice_rows(facts: PackageFacts) -> list[Row]:
    return [(s.channel_id, s.guild_id, s.minutes, str(s.start), str(s.end)) for s in facts.voice]


def session_rows(facts: PackageFacts) -> list[Row]:
    return [(str(s.start), str(s.end), s.minutes, s.os) for s in facts.sessions]


def package_rows(facts: PackageFacts) -> list[Row]:
    owner = facts.account.owner
    return [
        (
            facts.package_id,
            SCHEMA_VERSION,
            owner.id,
            owner.tag,
            owner.global_name,
            owner.avatar_url,
            1 if facts.is_partial else 0,
        )
    ]


def meta_rows(facts: PackageFacts) -> list[Row]:
    firsts = [s.first for s in facts.stats.values() if s.first]
    lasts = [s.last for s in facts.stats.values() if s.last]
    a = facts.analytics
    meta = {
        "schema_version": SCHEMA_VERSION,
        "generator": f"cordvault {__version__}",
        "sections": orjson.dumps(facts.sections).decode(),
        "analytics_files": str(facts.analytics_files),
        "analytics_events": str(a.events),
        "analytics_lines_skipped": str(a.skipped),
        "malformed_lines": str(a.malformed),
        "message_files_json": str(facts.message_files_json),
        "message_files_csv": str(facts.message_files_csv),
        "messages_total": str(sum(s.count for s in facts.stats.values())),
        "malformed_messages": str(sum(s.malformed for s in facts.stats.values())),
        "channels_without_metadata": str(facts.channels_without_metadata),
        "first_message_at": _unix(min(firsts) if firsts else None),
        "last_message_at": _unix(max(lasts) if lasts else None),
        **facts.extra_meta,
    }
    return sorted(meta.items())


def all_rows(facts: PackageFacts) -> dict[str, Iterable[Row]]:
    """Every table's rows, keyed by table name - except the activity rows: those come from
    :func:`message_sent_series` and :func:`event_count_rows` while the package is read."""
    return {
        "dm_channels_data": dm_rows(facts),
        "group_dm_channels_data": group_dm_rows(facts),
        "guild_channels_data": guild_channel_rows(facts),
        "guilds": guild_rows(facts),
        "payments": payment_rows(facts),
        "voice_sessions": voice_rows(facts),
        "sessions": session_rows(facts),
        "package_data": package_rows(facts),
        "cordvault_meta": meta_rows(facts),
    }
