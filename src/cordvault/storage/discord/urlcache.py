"""Signed attachment URLs, resolved lazily and cached until shortly before they expire.

Locators hold ids only; a read needs the attachment's current signed URL. :class:`UrlCache`
keeps the URLs of recently seen messages (the answer to a post warms it) until ``margin``
seconds before their ``ex`` expiry. A miss refreshes in a batch: one
``GET /channels/{c}/messages?around=<id>&limit=100`` brings the URLs of up to 100 neighbouring
messages, which for a file's consecutive chunks are the next reads. A message absent from that
page is asked for alone (``GET .../messages/{id}``: 404 10008 means the chunk is gone). One
refresh per channel runs at a time; threads missing on the same channel wait for it instead of
sending their own.

:meth:`fetch` retries exactly once when the CDN refuses a URL (expired early, clock skew): it
drops the cached message, resolves it again with a single GET and fetches again. The URLs are
credentials: they stay in memory, never in logs, errors or the database.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cordvault.core.metrics import URL_CACHE_LOOKUPS
from cordvault.discord import DiscordClient, DiscordError, DiscordUrlExpired, Message
from cordvault.storage.base import ChunkNotFound, StorageUnavailable
from cordvault.storage.discord.errors import storage_error
from cordvault.storage.discord.locator import Locator

_BATCH = 100
_UNKNOWN_EXPIRY = 600.0  # a URL without ``ex`` is trusted this long


@dataclass(frozen=True)
class _Entry:
    urls: dict[str, str]  # attachment id -> signed URL
    fresh_until: float


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    batch_refreshes: int = 0
    single_refreshes: int = 0
    expired_retries: int = 0


class UrlCache:
    """Thread-safe LRU of message id -> attachment URLs. See the module docstring."""

    def __init__(
        self,
        clients: Sequence[DiscordClient],
        *,
        margin: float = 300.0,
        max_messages: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = list(clients)
        self._margin = margin
        self._max = max_messages
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._channel_locks: dict[str, threading.Lock] = {}
        self.stats = CacheStats()

    def client_for(self, loc: Locator) -> DiscordClient:
        """The bot that posted the chunk (any configured bot when that one is gone)."""
        return self._clients[loc.bot] if loc.bot < len(self._clients) else self._clients[0]

    # -- cache -------------------------------------------------------------------------------

    def remember(self, message: Message) -> None:
        """Cache a message's URLs (e.g. the answer to its post)."""
        if not message.attachments:
            return
        now = self._clock()
        expiries = [a.expires_at for a in message.attachments]
        known = [e for e in expiries if e is not None]
        expires = min(known) if known else now + _UNKNOWN_EXPIRY
        entry = _Entry({a.id: a.url for a in message.attachments}, expires - self._margin)
        with self._lock:
            self._entries[message.id] = entry
            self._entries.move_to_end(message.id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, message_id: str) -> None:
        with self._lock:
            self._entries.pop(message_id, None)

    def _cached(self, loc: Locator) -> str | None:
        with self._lock:
            entry = self._entries.get(loc.message_id)
            if entry is None or entry.fresh_until <= self._clock():
                return None
            self._entries.move_to_end(loc.message_id)
            return entry.urls.get(loc.attachment_id)

    # -- resolution --------------------------------------------------------------------------

    def resolve(self, loc: Locator) -> str:
        """A usable signed URL for the chunk; :class:`ChunkNotFound` when it is gone."""
        url = self._cached(loc)
        if url is not None:
            self.stats.hits += 1
            URL_CACHE_LOOKUPS.labels("hit").inc()
            return url
        with self._lock:
            channel_lock = self._channel_locks.setdefault(loc.channel_id, threading.Lock())
        with channel_lock:
            url = self._cached(loc)  # another thread's refresh may have brought it
            if url is not None:
                self.stats.hits += 1
                URL_CACHE_LOOKUPS.labels("hit").inc()
                return url
            self.stats.misses += 1
            URL_CACHE_LOOKUPS.labels("miss").inc()
            client = self.client_for(loc)
            try:
                page = client.get_messages(loc.channel_id, around=loc.message_id, limit=_BATCH)
            except DiscordError as exc:
                raise storage_error(exc) from exc
            self.stats.batch_refreshes += 1
            for message in page:
                self.remember(message)
            url = self._cached(loc)
            if url is not None:
                return url
        return self._resolve_single(loc)

    def _resolve_single(self, loc: Locator) -> str:
        self.stats.single_refreshes += 1
        try:
            message = self.client_for(loc).get_message(loc.channel_id, loc.message_id)
        except DiscordError as exc:
            raise storage_error(exc) from exc
        self.remember(message)
        for attachment in message.attachments:
            if attachment.id == loc.attachment_id:
                return attachment.url
        raise ChunkNotFound()

    def fetch(self, loc: Locator, start: int, end: int | None) -> bytearray:
        """Bytes ``[start, end)`` of the chunk's attachment (``end=None``: to its end), asking
        the CDN for those only (no Range header for the whole attachment)."""
        client = self.client_for(loc)
        url = self.resolve(loc)
        try:
            try:
                return client.fetch_attachment(url, start, end)
            except DiscordUrlExpired:
                self.stats.expired_retries += 1
                self.forget(loc.message_id)
                url = self._resolve_single(loc)
                try:
                    return client.fetch_attachment(url, start, end)
                except DiscordUrlExpired as exc:
                    # A fresh URL refused too: the attachment is gone or the CDN misbehaves.
                    raise StorageUnavailable("Discord CDN refused a fresh attachment URL") from exc
        except DiscordError as exc:
            raise storage_error(exc) from exc
