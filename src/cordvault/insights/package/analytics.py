"""Scanning the analytics NDJSON shards.

Each line is one flat JSON object whose FIRST key is ``event_type``. Most lines are events we
do not count, so we never parse them: a compiled regex finds only lines that start with
``{"event_type":"<one of ours>"`` (C speed over the decompressed block). For the plain per-day
counters we slice the timestamp out of the line without parsing it; only the structured events
(reactions, voice, sessions ...) go through orjson. Output: an :class:`AnalyticsPartial` that
merges associatively, so shards can be scanned in parallel processes.

Irrelevant lines are not validated (that is the point); a relevant line that is not a JSON
object, or lacks a field its row needs, is counted in ``malformed``.
"""

from __future__ import annotations

import calendar
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from cordvault.insights.package.zipsource import iter_blocks

PLAIN_EVENTS: dict[bytes, str] = {
    name.encode(): name
    for name in (
        "email_opened",
        "login_successful",
        "app_crashed",
        "user_avatar_updated",
        "oauth2_authorize_accepted",
        "remote_auth_login",
        "notification_clicked",
        "captcha_served",
        "voice_message_recorded",
        "message_reported",
        "message_edited",
        "premium_upsell_viewed",
    )
}
PLAIN_EVENTS[b"app_native_crash"] = "app_crashed"
STRUCTURED_EVENTS = (
    b"guild_joined",
    b"application_command_used",
    b"add_reaction",
    b"app_opened",
    b"join_voice_channel",
    b"leave_voice_channel",
    b"session_start",
    b"session_end",
)
_PREFIX = b'{"event_type":"'
_LINE = re.compile(
    re.escape(_PREFIX)
    + b"("
    + b"|".join(re.escape(n) for n in sorted([*PLAIN_EVENTS, *STRUCTURED_EVENTS]))
    + b')"'
)
# A non-empty line that does not start with the event_type prefix (counted as skipped).
# (The pattern starts with a literal so the regex engine can skip ahead to each newline.)
_NO_EVENT = re.compile(rb'\n(?=[^\n])(?!\{"event_type":")')
_TS_KEY = b',"timestamp":"'


@dataclass
class AnalyticsPartial:
    """Aggregates of some analytics lines; ``merge`` is associative and commutative."""

    lines: int = 0
    events: int = 0
    malformed: int = 0
    per_day: Counter[tuple[str, str]] = field(default_factory=Counter)
    guild_joined: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    app_commands: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    reactions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    custom_reactions: set[tuple[str, str, str]] = field(default_factory=set)
    app_opened: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (channel_id, guild_id, 0 join / 1 leave, unix seconds)
    voice: list[tuple[str, str | None, int, int]] = field(default_factory=list)
    # (unix seconds, 0 start / 1 end, os)
    sessions: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Lines without an ``event_type``."""
        return self.lines - self.events

    def merge(self, other: AnalyticsPartial) -> None:
        self.lines += other.lines
        self.events += other.events
        self.malformed += other.malformed
        self.per_day.update(other.per_day)
        self.guild_joined.update(other.guild_joined)
        self.app_commands.update(other.app_commands)
        self.reactions.update(other.reactions)
        self.custom_reactions |= other.custom_reactions
        self.app_opened.update(other.app_opened)
        self.voice.extend(other.voice)
        self.sessions.extend(other.sessions)


def _strip_quotes(value: str) -> str:
    # Analytics timestamps are strings that contain quotes: "\"2023-06-01T12:34:56.789Z\"".
    return value.strip().strip('"').strip()


def parse_moment(value: Any) -> datetime | None:
    """A UTC datetime from an analytics time value (quoted ISO string or epoch ms)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch_ms(value)
    if not isinstance(value, str):
        return None
    text = _strip_quotes(value)
    if not text or text == "null":
        return None
    if text.isdigit():
        return _from_epoch_ms(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _from_epoch_ms(value: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(value / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _day_hour(value: Any) -> tuple[str, int] | None:
    if isinstance(value, str):
        text = _strip_quotes(value)
        # Fast path: "YYYY-MM-DDTHH:MM:SS[.fff]Z" is already UTC.
        if len(text) >= 20 and text[-1] == "Z" and text[10] == "T" and text[4] == "-":
            hour = text[11:13]
            if hour.isdigit():
                return text[:10], int(hour)
    moment = parse_moment(value)
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%d"), moment.hour


@lru_cache(maxsize=65536)
def _day_epoch(day: str) -> int | None:
    try:
        return calendar.timegm(time.strptime(day, "%Y-%m-%d"))
    except ValueError:
        return None


def _epoch(value: Any) -> int | None:
    if isinstance(value, str):
        text = _strip_quotes(value)
        # Fast path: "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> cached day start + seconds of the day.
        if len(text) >= 20 and text[-1] == "Z" and text[10] == "T" and text[13] == ":":
            base = _day_epoch(text[:10])
            clock = text[11:13], text[14:16], text[17:19]
            if base is not None and all(c.isdigit() for c in clock):
                return base + int(clock[0]) * 3600 + int(clock[1]) * 60 + int(clock[2])
    moment = parse_moment(value)
    if moment is None:
        return None
    return int(moment.timestamp() // 1)


def _slice_timestamp(line: bytes) -> str | None:
    """The raw ``timestamp`` value of a line without parsing the line."""
    start = line.find(_TS_KEY)
    if start < 0:
        return None
    start += len(_TS_KEY)
    if line.startswith(b'\\"', start):
        end = line.find(b'\\"', start + 2)
        raw = line[start + 2 : end] if end > 0 else b""
    else:
        end = line.find(b'"', start)
        raw = line[start:end] if end > 0 else b""
    return raw.decode("ascii", "replace") if raw else None


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "" or value == "null":
        return None
    return str(value)


class _Slow(Exception):
    """The fast byte-slicing path cannot read this line: parse it properly."""


_DIGITS = frozenset(b"0123456789")


@lru_cache(maxsize=100_000)
def _valid_day(day: bytes) -> str | None:
    try:
        return datetime.strptime(day.decode("ascii"), "%Y-%m-%d").strftime("%Y-%m-%d")
    except (UnicodeDecodeError, ValueError):
        return None


def _fast_day_hour(buf: bytes, start: int, end: int) -> tuple[str, int] | None:
    """(day, hour) of a line's ``"timestamp":"\\"YYYY-MM-DDTHH:...Z\\""`` by slicing.

    Raises :class:`_Slow` when the value has any other shape; None when there is no
    timestamp at all.
    """
    pos = buf.find(_TS_KEY, start, end)
    if pos < 0:
        return None
    pos += len(_TS_KEY)
    if buf[pos : pos + 2] != b'\\"' or buf[pos + 12] != 84:  # 84 = "T"
        raise _Slow
    close = buf.find(b'\\"', pos + 2, end)
    if close < 0 or buf[close - 1] != 90:  # 90 = "Z": already UTC
        raise _Slow
    day_hour = _day_hour_of(buf[pos + 2 : pos + 15])
    if day_hour is None:
        raise _Slow
    return day_hour


@lru_cache(maxsize=200_000)
def _day_hour_of(stamp: bytes) -> tuple[str, int] | None:
    """(day, hour) of ``YYYY-MM-DDTHH`` bytes; None when not a real date and hour."""
    day = _valid_day(stamp[:10])
    hour = stamp[11:13]
    if day is None or len(hour) != 2 or hour[0] not in _DIGITS or hour[1] not in _DIGITS:
        return None
    value = int(hour)
    return (day, value) if value < 24 else None


def _fast_field(buf: bytes, key: bytes, start: int, end: int) -> bytes | None:
    """A flat field's value by slicing: None when absent, empty or ``null``.

    ``key`` is the encoded ``,"name":``. Raises :class:`_Slow` for escaped strings.
    """
    pos = buf.find(key, start, end)
    if pos < 0:
        return None
    pos += len(key)
    if buf[pos : pos + 1] == b'"':
        close = buf.find(b'"', pos + 1, end)
        if close < 0:
            raise _Slow
        value = buf[pos + 1 : close]
        if b"\\" in value:
            raise _Slow
    else:
        close = pos
        while close < end and buf[close] not in b",}":
            close += 1
        value = buf[pos:close].strip()
    if not value or value == b"null":
        return None
    return value


FieldGetter = Callable[[str], str | None]
_FIELD_KEYS = {
    name: f',"{name}":'.encode()
    for name in ("guild_id", "channel_id", "application_id", "emoji_name", "emoji_id", "os")
}


def _count_day_event(
    part: AnalyticsPartial, event: bytes, day: str, hour: int, get: FieldGetter
) -> None:
    """The counting rules of the structured per-day/per-hour events, shared by the fast
    (byte-slicing) and the slow (parsed) paths. Every field is read before anything is
    counted, so a fast-path fallback half-way can never count a line twice."""
    if event == b"app_opened":
        os_name = get("os")
        if os_name is not None:
            part.app_opened[(day, os_name)] += 1
    elif event == b"add_reaction":
        channel, emoji, custom = get("channel_id"), get("emoji_name"), get("emoji_id")
        if channel is not None and emoji is not None:
            key = (day, channel, emoji)
            part.reactions[key] += 1
            if custom is not None:
                part.custom_reactions.add(key)
    elif event == b"application_command_used":
        app_id, guild = get("application_id"), get("guild_id")
        if app_id is not None and app_id != "-1" and guild is not None:
            part.app_commands[(day, app_id, guild)] += 1
    elif event == b"guild_joined":
        guild = get("guild_id")
        if guild is not None:
            part.guild_joined[(guild, day, hour)] += 1


def _fast_structured(
    part: AnalyticsPartial, event: bytes, buf: bytes, start: int, end: int
) -> None:
    """Structured events by slicing; raises :class:`_Slow` for anything unusual."""
    if event in (b"join_voice_channel", b"leave_voice_channel", b"session_start", b"session_end"):
        raise _Slow  # rare: parse them properly (they also need exact epoch seconds)
    day_hour = _fast_day_hour(buf, start, end)
    if day_hour is None:
        raise _Slow

    def get(name: str) -> str | None:
        value = _fast_field(buf, _FIELD_KEYS[name], start, end)
        return None if value is None else value.decode()

    _count_day_event(part, event, day_hour[0], day_hour[1], get)


def _structured(part: AnalyticsPartial, event: bytes, line: bytes) -> None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        part.malformed += 1
        return
    if not isinstance(obj, dict):
        part.malformed += 1
        return
    if event in (b"join_voice_channel", b"leave_voice_channel"):
        channel = _opt_str(obj, "channel_id")
        if channel is None:
            return
        when = _epoch(obj.get("client_track_timestamp"))
        if when is None:
            when = _epoch(obj.get("timestamp"))
        if when is None:
            part.malformed += 1
            return
        kind = 0 if event == b"join_voice_channel" else 1
        part.voice.append((channel, _opt_str(obj, "guild_id"), kind, when))
        return
    if event in (b"session_start", b"session_end"):
        os_name = _opt_str(obj, "os")
        if os_name is None:
            return
        when = _epoch(obj.get("timestamp"))
        if when is None:
            part.malformed += 1
            return
        part.sessions.append((when, 0 if event == b"session_start" else 1, os_name))
        return
    day_hour = _day_hour(obj.get("timestamp"))
    if day_hour is None:
        part.malformed += 1
        return
    _count_day_event(part, event, day_hour[0], day_hour[1], lambda name: _opt_str(obj, name))


def scan_lines(part: AnalyticsPartial, buf: bytes, start: int = 0, stop: int | None = None) -> None:
    """Aggregate every complete line of ``buf[start:stop]`` (which must end at a line boundary).

    Works on the window in place: the 4 MiB blocks are never copied.

    Fast path: fields are sliced out of the bytes (flat objects; a key preceded by ``,"``
    cannot occur inside a string value, whose quotes are escaped). A line whose values are
    escaped or oddly shaped takes the slow path: a real JSON parse.
    """
    # Each count is one C-speed pass; the prefix can only occur at a line start (inside JSON
    # strings its quotes would be escaped).
    size = len(buf) if stop is None else stop
    events = buf.count(_PREFIX, start, size)
    skipped = sum(1 for _ in _NO_EVENT.finditer(buf, start, size))
    if size > start and buf[start] != 10 and not buf.startswith(_PREFIX, start):
        skipped += 1  # the first line has no newline before it
    part.events += events
    part.lines += events + skipped
    plain_days: Counter[tuple[bytes, str]] = Counter()
    find = buf.find
    window_start = start
    for match in _LINE.finditer(buf, window_start, size):
        start = match.start()
        end = find(b"\n", start, size)
        if end < 0:
            end = size
        event = match.group(1)
        try:
            if event in PLAIN_EVENTS:
                day_hour = _fast_day_hour(buf, start, end)
                if day_hour is None:
                    part.malformed += 1
                    continue
                plain_days[(event, day_hour[0])] += 1
            else:
                _fast_structured(part, event, buf, start, end)
        except (_Slow, IndexError, UnicodeDecodeError):
            _slow_line(part, event, buf[start:end])
    for (event, day), count in plain_days.items():
        part.per_day[(PLAIN_EVENTS[event], day)] += count


def _slow_line(part: AnalyticsPartial, event: bytes, line: bytes) -> None:
    plain = PLAIN_EVENTS.get(event)
    if plain is None:
        _structured(part, event, line)
        return
    raw = _slice_timestamp(line)
    day_hour = _day_hour(raw) if raw is not None else None
    if day_hour is None:
        part.malformed += 1
        return
    part.per_day[(plain, day_hour[0])] += 1


def scan_shard(
    zf: zipfile.ZipFile, name: str, progress: Callable[[int], None] | None = None
) -> AnalyticsPartial:
    """Scan one analytics shard entry; ``progress`` receives decompressed byte counts."""
    part = AnalyticsPartial()
    carry = b""
    for block in iter_blocks(zf, name):
        first = block.find(b"\n")
        if first < 0:
            carry += block
        else:
            # Only the line straddling two blocks is joined; the rest is scanned in place.
            if carry:
                scan_lines(part, carry + block[: first + 1])
                carry = b""
            else:
                first = -1
            cut = block.rfind(b"\n")
            if cut > first:
                scan_lines(part, block, first + 1, cut + 1)
            carry = block[cut + 1 :]
        if progress is not None:
            progress(len(block))
    if carry.strip():
        scan_lines(part, carry)
    return part
