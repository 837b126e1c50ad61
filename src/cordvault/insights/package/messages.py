"""Streaming readers for a channel's ``messages.json`` / ``messages.csv``.

Both yield :class:`MessageBatch` values (timestamps normalised to UTC ``YYYY-MM-DD HH:MM:SS``
strings, plus contents when asked) so a channel of millions of messages never sits in memory.

``messages.json`` is one JSON array of flat objects. We cut the decompressed stream at object
boundaries and hand each batch to orjson in one call: a boundary is ``}`` , ``,`` , ``{`` then a
quoted key and ``:`` (whitespace allowed). Inside a JSON string every ``"`` is escaped, so that
sequence can only be structure - it can never match inside message contents.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import orjson

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.package.zipsource import DATA_ERRORS, READ_BLOCK, iter_blocks, open_entry

_BOUNDARY = re.compile(rb'\}\s*,\s*\{\s*"[A-Za-z_]+"\s*:')
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


_TS19 = re.compile(r"\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d")


@lru_cache(maxsize=200_000)
def _valid_hour(key: str) -> bool:
    """Whether ``YYYY-MM-DD HH`` is a real calendar date and hour (cached: few distinct)."""
    try:
        datetime.strptime(key, "%Y-%m-%d %H")
    except ValueError:
        return False
    return True


def _plain_utc(ts: object) -> bool:
    """A well-formed ``YYYY-MM-DD HH:MM:SS`` (the shape Discord writes, already UTC)."""
    return (
        isinstance(ts, str)
        and len(ts) == 19
        and _TS19.fullmatch(ts) is not None
        and _valid_hour(ts[:13])
    )


@dataclass
class MessageBatch:
    """Normalised messages of one slice of a file."""

    timestamps: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    malformed: int = 0


def normalise_timestamp(raw: object) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or None when unparsable.

    Fast path for the two shapes Discord writes in UTC (``...SS`` and ``...SS[.ffffff]+00:00``);
    anything else goes through ``datetime.fromisoformat`` and is converted to UTC.
    """
    if not isinstance(raw, str):
        return None
    n = len(raw)
    utc_shape = n == 19 or (raw.endswith("+00:00") and (n == 25 or raw[19] == "."))
    if n >= 19 and utc_shape and _plain_utc(raw[:19]):
        return raw[:19]
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _batch_from_objects(objects: object, want_contents: bool) -> MessageBatch:
    batch = MessageBatch()
    if not isinstance(objects, list):
        batch.malformed += 1
        return batch
    ts_append = batch.timestamps.append
    for obj in objects:
        if not isinstance(obj, dict):
            batch.malformed += 1
            continue
        raw = obj.get("Timestamp")
        # Fast path inline: nearly every message is a plain 19-char UTC timestamp.
        ts = raw if _plain_utc(raw) else normalise_timestamp(raw)
        if ts is None:
            batch.malformed += 1
            continue
        ts_append(ts)
        if want_contents:
            content = obj.get("Contents")
            batch.contents.append(content if isinstance(content, str) else "")
    return batch


def _last_boundary(buf: bytes) -> re.Match[bytes] | None:
    """The last object boundary in ``buf``, searching back from the end (O(1) typically)."""
    pos = buf.rfind(b"}")
    while pos >= 0:
        match = _BOUNDARY.match(buf, pos)
        if match is not None:
            return match
        pos = buf.rfind(b"}", 0, pos)
    return None


def iter_json_messages(
    zf: zipfile.ZipFile, name: str, want_contents: bool, block_size: int = READ_BLOCK
) -> Iterator[MessageBatch]:
    """Batches of a ``messages.json``; an unparsable file or slice counts as malformed."""
    pending = b""
    started = False
    for block in iter_blocks(zf, name, block_size):
        pending += block
        if not started:
            stripped = pending.lstrip()
            if not stripped:
                continue
            if not stripped.startswith(b"["):
                yield MessageBatch(malformed=1)
                return
            pending = stripped[1:]
            started = True
        match = _last_boundary(pending)
        if match is None:
            continue
        opening = match.start() + match.group().index(b"{")
        body, pending = pending[: match.start() + 1], pending[opening:]
        yield _decode(b"[" + body + b"]", want_contents)
    if not started:
        return
    tail = pending.rstrip()
    if not tail.endswith(b"]"):
        yield MessageBatch(malformed=1)
        return
    tail = tail[:-1].strip()
    if tail:
        yield _decode(b"[" + tail + b"]", want_contents)


def _decode(data: bytes, want_contents: bool) -> MessageBatch:
    try:
        return _batch_from_objects(orjson.loads(data), want_contents)
    except orjson.JSONDecodeError:
        return MessageBatch(malformed=1)


def iter_csv_messages(
    zf: zipfile.ZipFile, name: str, want_contents: bool, batch_size: int = 50_000
) -> Iterator[MessageBatch]:
    """Batches of a ``messages.csv`` (header ``ID,Timestamp,Contents,Attachments``).

    Damaged zip data under the CSV reader -> ``CORRUPT_ZIP``.
    """
    try:
        yield from _iter_csv(zf, name, want_contents, batch_size)
    except DATA_ERRORS as exc:
        raise CordvaultError(ErrorCode.CORRUPT_ZIP, "a zip entry is damaged") from exc


def _iter_csv(
    zf: zipfile.ZipFile, name: str, want_contents: bool, batch_size: int
) -> Iterator[MessageBatch]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    with open_entry(zf, name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except (StopIteration, csv.Error):
            return
        try:
            i_ts = header.index("Timestamp")
        except ValueError:
            yield MessageBatch(malformed=1)
            return
        i_ct = header.index("Contents") if "Contents" in header else None
        batch = MessageBatch()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                batch.malformed += 1
                continue
            if not row:
                continue
            ts = normalise_timestamp(row[i_ts]) if len(row) > i_ts else None
            if ts is None:
                batch.malformed += 1
                continue
            batch.timestamps.append(ts)
            if want_contents:
                batch.contents.append(row[i_ct] if i_ct is not None and len(row) > i_ct else "")
            if len(batch.timestamps) >= batch_size:
                yield batch
                batch = MessageBatch()
        if batch.timestamps or batch.malformed:
            yield batch


@dataclass
class ChannelStats:
    """What the aggregates need from one channel's messages (mergeable)."""

    count: int = 0
    hours: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD HH" -> messages
    first: str | None = None
    last: str | None = None
    sentiment_total: float = 0.0
    sentiment_count: int = 0
    malformed: int = 0


def scan_channel_messages(
    zf: zipfile.ZipFile,
    name: str,
    kind: str,
    want_sentiment: bool,
    progress: Callable[[int], None] | None = None,
) -> ChannelStats:
    """Stream one message file into a :class:`ChannelStats`."""
    from collections import Counter

    from cordvault.insights.sentiment import SentimentAccumulator

    stats = ChannelStats()
    hours: Counter[str] = Counter()
    sentiment = SentimentAccumulator() if want_sentiment else None
    batches = (
        iter_json_messages(zf, name, want_sentiment)
        if kind == "json"
        else iter_csv_messages(zf, name, want_sentiment)
    )
    for batch in batches:
        stats.malformed += batch.malformed
        stamps = batch.timestamps
        if not stamps:
            continue
        stats.count += len(stamps)
        hours.update([ts[:13] for ts in stamps])
        lo, hi = min(stamps), max(stamps)
        stats.first = lo if stats.first is None or lo < stats.first else stats.first
        stats.last = hi if stats.last is None or hi > stats.last else stats.last
        if sentiment is not None:
            for content in batch.contents:
                sentiment.add(content)
        if progress is not None:
            progress(len(stamps))
    stats.hours = dict(hours)
    if sentiment is not None:
        stats.sentiment_total, stats.sentiment_count = sentiment.total, sentiment.count
    return stats
