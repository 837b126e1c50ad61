"""Scanning the analytics NDJSON shards.

Each line is one flat JSON object whose FIRST key is ``event_type``. Most lines are events we
do not count, so we never parse them: a compiled regex finds only lines that start with
``{"event_type":"<one of ours>"`` (C speed over the decompressed block). For the plain per-day
counters we slice the timestamp out of the line without parsing it; only the structured events
(reactions, voice, sessions ...) go through orjson. Output: an :class:`AnalyticsPartial` that
merges associatively, so shards can be scanned in parallel processes.

Irrelevant lines are not validated (that is the point); a relevant line that is not a JSON
object, or lacks a field its row needs, is counted in ``malformed``.

Size: near 450 lines on purpose. The analysis workers' forkserver preloads this module
alone (see ``insights/_pool_worker.py``); the scanning loop and its counting rules stay in one
module so a worker imports nothing else.
"""

from __future__ import annotations

import calendar
import re
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec
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
    if text.isdecimal():  # (isdigit() would admit "²", which int() refuses)
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
            if hour.isdecimal():
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
            if base is not None and all(c.isdecimal() for c in clock):
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


# A field value as the decoder accepts it on the fast path; anything else (a float, a
# nested object) makes the block take the line-by-line path.
_Scalar = str | int | bool | None


class _Event(msgspec.Struct):
    """The fields we read from one relevant analytics line (every other key is skipped by
    the decoder without being materialised). Decoding checks the scalar types; built by
    hand on the line-by-line path, the fields may hold any JSON value."""

    event_type: str
    timestamp: _Scalar = None
    client_track_timestamp: _Scalar = None
    channel_id: _Scalar = None
    guild_id: _Scalar = None
    application_id: _Scalar = None
    emoji_name: _Scalar = None
    emoji_id: _Scalar = None
    os: _Scalar = None


_EVENT_FIELDS = _Event.__struct_fields__
_DECODE_EVENT_LINES = msgspec.json.Decoder(_Event)
_ASCII_DIGITS = frozenset("0123456789")
_PLAIN_BY_NAME = {name.decode(): plain for name, plain in PLAIN_EVENTS.items()}
_VOICE = {"join_voice_channel": 0, "leave_voice_channel": 1}
_SESSION = {"session_start": 0, "session_end": 1}


def _opt(value: Any) -> str | None:
    """A field as text: None when absent, empty or ``null`` (the reference's rule)."""
    if value is None or value == "" or value == "null":
        return None
    return str(value)


_TWO_DIGITS = {f"{n:02d}": n for n in range(100)}


def _quick_day_hour(stamp: Any) -> tuple[str, int] | None:
    """:func:`_day_hour` of the shape Discord writes (``"YYYY-MM-DDTHH:MM:SS.fffZ"``, quotes
    included), or None for any other shape (the caller then uses :func:`_day_hour`).

    Exact: for a value that starts with a quote and an ASCII digit and ends in ``Z"`` (at
    least 22 characters), :func:`_day_hour` looks at nothing but these characters.
    """
    if (
        type(stamp) is str
        and len(stamp) >= 22
        and stamp[-2:] == 'Z"'
        and stamp[0] == '"'
        and stamp[11] == "T"
        and stamp[5] == "-"
        and stamp[1] in _ASCII_DIGITS
    ):
        hour = _TWO_DIGITS.get(stamp[12:14])
        if hour is not None:
            # One str object per day (interned strings are freed when unused): the counter
            # keys of a shard share them, which keeps the partial and its pickle small.
            return sys.intern(stamp[1:11]), hour
    return None


@dataclass(slots=True)
class _Tally:
    """One block's counter keys as lists, counted into the partial at the end of the block:
    a list append per line is several times cheaper than a Counter increment."""

    per_day: list[tuple[str, str]] = field(default_factory=list)
    app_opened: list[tuple[str, str]] = field(default_factory=list)
    reactions: list[tuple[str, str, str]] = field(default_factory=list)
    custom_reactions: list[tuple[str, str, str]] = field(default_factory=list)
    app_commands: list[tuple[str, str, str]] = field(default_factory=list)
    guild_joined: list[tuple[str, str, int]] = field(default_factory=list)
    malformed: int = 0

    def add_to(self, part: AnalyticsPartial) -> None:
        part.per_day.update(self.per_day)
        part.app_opened.update(self.app_opened)
        part.reactions.update(self.reactions)
        part.custom_reactions.update(self.custom_reactions)
        part.app_commands.update(self.app_commands)
        part.guild_joined.update(self.guild_joined)
        part.malformed += self.malformed


def _count_event(part: AnalyticsPartial, tally: _Tally, e: _Event) -> None:
    """The counting rules: one decoded relevant line (however it was decoded)."""
    event = e.event_type
    stamp = e.timestamp
    day_hour = _quick_day_hour(stamp)
    plain = _PLAIN_BY_NAME.get(event)
    if plain is not None:
        if day_hour is None:
            day_hour = _day_hour(stamp)
        if day_hour is None:
            tally.malformed += 1
        else:
            tally.per_day.append((plain, day_hour[0]))
        return
    kind = _VOICE.get(event)
    if kind is not None:
        channel = _opt(e.channel_id)
        if channel is None:
            return
        when = _epoch(e.client_track_timestamp)
        if when is None:
            when = _epoch(stamp)
        if when is None:
            tally.malformed += 1
            return
        part.voice.append((channel, _opt(e.guild_id), kind, when))
        return
    kind = _SESSION.get(event)
    if kind is not None:
        os_name = _opt(e.os)
        if os_name is None:
            return
        when = _epoch(stamp)
        if when is None:
            tally.malformed += 1
            return
        part.sessions.append((when, kind, os_name))
        return
    if day_hour is None:
        day_hour = _day_hour(stamp)
        if day_hour is None:
            tally.malformed += 1
            return
    day = day_hour[0]
    if event == "app_opened":
        os_name = _opt(e.os)
        if os_name is not None:
            tally.app_opened.append((day, os_name))
    elif event == "add_reaction":
        channel, emoji = _opt(e.channel_id), _opt(e.emoji_name)
        if channel is not None and emoji is not None:
            key = (day, channel, emoji)
            tally.reactions.append(key)
            if _opt(e.emoji_id) is not None:
                tally.custom_reactions.append(key)
    elif event == "application_command_used":
        app_id, guild = _opt(e.application_id), _opt(e.guild_id)
        if app_id is not None and app_id != "-1" and guild is not None:
            tally.app_commands.append((day, app_id, guild))
    elif event == "guild_joined":
        guild = _opt(e.guild_id)
        if guild is not None:
            tally.guild_joined.append((guild, day, day_hour[1]))


def scan_lines(part: AnalyticsPartial, buf: bytes, start: int = 0, stop: int | None = None) -> None:
    """Aggregate every line of ``buf[start:stop]`` (which must end at a line boundary).

    Most lines are events we do not count: they are split off in C and dropped by a
    compiled-regex match on their first bytes, never parsed. The relevant lines are decoded
    together by msgspec, line by line, into structs holding just the fields we read. A block
    with any line the typed decoder rejects (not JSON, a float or an object where a scalar
    belongs) is counted line by line instead, with the same rules.
    """
    size = len(buf) if stop is None else stop
    window = buf if start == 0 and size == len(buf) else buf[start:size]
    lines = window.split(b"\n")
    nonempty = len(lines) - lines.count(b"")
    events = sum(1 for line in lines if line.startswith(_PREFIX))
    part.events += events
    part.lines += nonempty
    relevant = list(filter(_LINE.match, lines))
    if not relevant:
        return
    tally = _Tally()
    try:
        decoded = _DECODE_EVENT_LINES.decode_lines(b"\n".join(relevant))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        for line in relevant:
            _line_by_line(part, tally, line)
    else:
        for e in decoded:
            _count_event(part, tally, e)
    tally.add_to(part)


def _line_by_line(part: AnalyticsPartial, tally: _Tally, line: bytes) -> None:
    """One relevant line on its own: a real JSON parse, any field types."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        match = _LINE.match(line)
        plain = PLAIN_EVENTS.get(match.group(1)) if match is not None else None
        if plain is None:
            tally.malformed += 1
            return
        # A plain event needs only its timestamp: read it even from a damaged line.
        raw = _slice_timestamp(line)
        day_hour = _day_hour(raw) if raw is not None else None
        if day_hour is None:
            tally.malformed += 1
        else:
            tally.per_day.append((plain, day_hour[0]))
        return
    match = _LINE.match(line)
    assert match is not None  # relevant lines matched _LINE
    values: dict[str, Any] = {name: obj.get(name) for name in _EVENT_FIELDS}
    values["event_type"] = match.group(1).decode()
    _count_event(part, tally, _Event(**values))


def scan_shard(
    zf: zipfile.ZipFile,
    name: str,
    progress: Callable[[int], None] | None = None,
    *,
    split_at: int | None = None,
    second: bool = False,
) -> AnalyticsPartial:
    """Scan one analytics shard entry; ``progress`` receives decompressed byte counts.

    With ``split_at``, only half of the lines: those that start before that decompressed
    offset, or (``second``) those that start at or after it. The two halves together count
    every line exactly once, so two workers can share one shard; the second one inflates
    the first half too (a deflate stream cannot be entered in the middle) but does not scan
    it.
    """
    part = AnalyticsPartial()
    carry = b""
    blocks = iter_blocks(zf, name)
    owned = blocks if split_at is None else _half_of(blocks, split_at, second)
    try:
        for block in owned:
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
    finally:
        blocks.close()
    if carry.strip():
        scan_lines(part, carry)
    return part


def _half_of(blocks: Iterator[bytes], split_at: int, second: bool) -> Iterator[bytes]:
    """The bytes of the lines that start before ``split_at`` (or, ``second``, at or after it).

    The cut is just after the first newline at or after offset ``split_at - 1``: the line
    holding that offset started before ``split_at`` and belongs to the first half.
    """
    if split_at <= 0:
        if second:
            yield from blocks
        return
    offset = 0
    for block in blocks:
        start = max(0, split_at - 1 - offset)
        newline = block.find(b"\n", start) if start < len(block) else -1
        offset += len(block)
        if newline < 0:
            if not second:
                yield block
            continue
        if second:
            yield block[newline + 1 :]
            yield from blocks
        else:
            yield block[: newline + 1]
        return
