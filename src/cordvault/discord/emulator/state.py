"""The emulator's configuration and everything it remembers.

:class:`EmulatorConfig` is fixed at start (tokens, channels, limits). :class:`EmulatorState` is
the live world: messages, attachment files (in a temp dir, or ``storage_dir``), nonces, the
clock offset, fault rules and counters. Handlers run on the server's event-loop thread while a
test inspects from its own thread, so every mutation happens under one lock.

The clock: ``now()`` is wall time plus ``clock_offset``. Snowflakes, message ages (the 14-day
bulk-delete rule) and signed-URL expiry use it, so a test ages messages or expires URLs with
:meth:`EmulatorState.advance` instead of sleeping. Rate-limit windows use the real monotonic
clock: they pace real requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cordvault.discord.emulator.faults import FaultBook
from cordvault.discord.emulator.limits import RouteLimit, ServerLimiter
from cordvault.discord.snowflake import SnowflakeGenerator

MiB = 1024 * 1024

# Discord's real figure for message creation; the others are plausible and configurable.
DEFAULT_ROUTE_LIMITS: dict[str, RouteLimit] = {
    "POST /channels/{channel_id}/messages": RouteLimit(5, 5.0),
    "POST /webhooks/{webhook_id}/{webhook_token}": RouteLimit(5, 2.0),
    "DELETE /channels/{channel_id}/messages/{message_id}": RouteLimit(5, 1.0),
    "POST /channels/{channel_id}/messages/bulk-delete": RouteLimit(1, 1.0),
}


@dataclass
class ChannelSpec:
    """A text channel the emulator knows. ``accessible=False``: 403 50001 for the bot."""

    id: str
    guild_id: str = "100000000000000000"
    name: str = "vault"
    accessible: bool = True
    manage_messages: bool = True


@dataclass
class GuildSpec:
    """A guild for ``GET /guilds/{id}``. ``accessible=False``: the bot is not a member."""

    id: str
    name: str
    icon: str | None = None
    member_count: int = 1
    presence_count: int = 1
    accessible: bool = True


@dataclass
class WebhookSpec:
    """A webhook (``id`` + secret ``token``) posting into ``channel_id``."""

    id: str
    token: str
    channel_id: str
    name: str = "cordvault"


@dataclass
class EmulatorConfig:
    """What the emulated Discord looks like. Every limit mirrors a real one and is adjustable."""

    tokens: set[str] = field(default_factory=lambda: {"emulator-bot-token"})
    bot_user_id: str = "900000000000000001"
    channels: dict[str, ChannelSpec] = field(default_factory=dict)
    guilds: dict[str, GuildSpec] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, WebhookSpec] = field(default_factory=dict)
    avatar_overrides: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """CDN avatar answers replaced by (bytes, content type), keyed by avatar hash or
    ``embed/<n>`` (see ``emulator/avatars.py``)."""
    max_file_size: int = 10 * MiB
    max_request_size: int = 25 * MiB
    max_attachments: int = 10
    max_content_length: int = 2000
    url_ttl: float = 24 * 3600.0
    route_limits: dict[str, RouteLimit] = field(default_factory=lambda: dict(DEFAULT_ROUTE_LIMITS))
    default_limit: RouteLimit = field(default_factory=lambda: RouteLimit(50, 1.0))
    global_limit: int = 50
    global_period: float = 1.0
    nonce_ttl: float = 300.0
    storage_dir: Path | None = None
    seed: int | None = None
    ban_threshold: int = 10_000
    """Invalid (401/403/429) answers per ``ban_window`` seconds before the "IP" is banned."""
    ban_window: float = 600.0
    ban_duration: float = 3600.0

    def add_channels(self, *ids: str, guild_id: str = "100000000000000000") -> EmulatorConfig:
        """Convenience: accessible channels with these ids (chainable)."""
        for channel_id in ids:
            self.channels[channel_id] = ChannelSpec(channel_id, guild_id=guild_id)
        return self


@dataclass
class StoredAttachment:
    id: str
    filename: str
    size: int
    content_type: str
    path: Path


@dataclass
class StoredMessage:
    id: str
    channel_id: str
    content: str
    author: dict[str, Any]
    created: float
    webhook_id: str | None = None
    nonce: str | None = None
    attachments: list[StoredAttachment] = field(default_factory=list)


@dataclass
class Stats:
    """Counters a test can assert on (read them through :meth:`EmulatorState.stats`)."""

    requests: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    global_rate_limited: int = 0
    invalid_requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    cdn_requests_with_authorization: int = 0  # the bot token must never go to the CDN

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_rate_limited(self) -> int:
        return sum(self.rate_limited.values()) + self.global_rate_limited


class EmulatorState:
    """The emulated world. Public methods are thread-safe."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self.faults = FaultBook(seed=config.seed)
        self.limiter = ServerLimiter(
            config.route_limits, config.default_limit, config.global_limit, config.global_period
        )
        self.messages: dict[str, StoredMessage] = {}
        self.attachments: dict[str, tuple[str, StoredAttachment]] = {}  # id -> (channel, file)
        self._nonces: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._ids = SnowflakeGenerator(worker=2)
        self._stats = Stats()
        self._signing_key = secrets.token_bytes(32)
        self._invalid: deque[float] = deque()
        # Range headers of CDN GETs, for tests that check only the needed bytes are asked for.
        self.cdn_ranges: deque[str | None] = deque(maxlen=1000)
        self.banned_until = 0.0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if config.storage_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cordvault-emulator-")
            self.storage_dir = Path(self._tmp.name)
        else:
            self.storage_dir = config.storage_dir
            self.storage_dir.mkdir(parents=True, exist_ok=True)

    # -- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Emulated wall time (Unix seconds)."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward: messages age, signed URLs expire."""
        with self.lock:
            self.clock_offset += seconds

    def new_id(self) -> str:
        return self._ids.next(self.now())

    # -- counters ----------------------------------------------------------------------------

    def count_request(self, label: str) -> None:
        with self.lock:
            self._stats.requests[label] += 1
            self._stats.arrivals.setdefault(label, []).append(time.monotonic())

    def count_rate_limited(self, label: str, is_global: bool) -> None:
        with self.lock:
            if is_global:
                self._stats.global_rate_limited += 1
            else:
                self._stats.rate_limited[label] += 1
            self._note_invalid()

    def note_cdn_range(self, value: str | None) -> None:
        """Remember a CDN GET's ``Range`` header (None: the whole file); the newest 1,000."""
        with self.lock:
            self.cdn_ranges.append(value)

    def count_cdn_authorization(self) -> None:
        with self.lock:
            self._stats.cdn_requests_with_authorization += 1

    def count_invalid(self) -> None:
        with self.lock:
            self._note_invalid()

    def _note_invalid(self) -> None:
        """Count one invalid answer; Discord's Cloudflare layer bans the IP past a threshold."""
        now = time.monotonic()
        self._stats.invalid_requests += 1
        self._invalid.append(now)
        while self._invalid and self._invalid[0] <= now - self.config.ban_window:
            self._invalid.popleft()
        if len(self._invalid) >= self.config.ban_threshold:
            self.banned_until = now + self.config.ban_duration

    def ban_remaining(self) -> float:
        """Seconds left on an IP ban (0: not banned)."""
        with self.lock:
            return max(0.0, self.banned_until - time.monotonic())

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self._stats.faults[kind] += 1
            self._stats.arrivals.setdefault(f"fault {kind}", []).append(time.monotonic())

    def stats(self) -> Stats:
        """A deep snapshot of the counters."""
        with self.lock:
            s = self._stats
            return Stats(
                requests=Counter(s.requests),
                rate_limited=Counter(s.rate_limited),
                global_rate_limited=s.global_rate_limited,
                invalid_requests=s.invalid_requests,
                faults=Counter(s.faults),
                arrivals={k: list(v) for k, v in s.arrivals.items()},
                cdn_requests_with_authorization=s.cdn_requests_with_authorization,
            )

    def reset_stats(self) -> None:
        with self.lock:
            self._stats = Stats()

    # -- messages ----------------------------------------------------------------------------

    def find_nonce(self, channel_id: str, author_id: str, nonce: str) -> StoredMessage | None:
        """The message an earlier request with this nonce created (within ``nonce_ttl``)."""
        with self.lock:
            hit = self._nonces.get((channel_id, author_id, nonce))
            if hit is None or self.now() - hit[1] > self.config.nonce_ttl:
                return None
            return self.messages.get(hit[0])

    def add_message(self, message: StoredMessage) -> None:
        with self.lock:
            self.messages[message.id] = message
            for attachment in message.attachments:
                self.attachments[attachment.id] = (message.channel_id, attachment)
            if message.nonce is not None:
                key = (message.channel_id, str(message.author["id"]), message.nonce)
                self._nonces[key] = (message.id, message.created)

    def remove_message(self, message_id: str) -> StoredMessage | None:
        """Forget a message and delete its attachment files (their URLs then 404)."""
        with self.lock:
            message = self.messages.pop(message_id, None)
            for attachment in message.attachments if message is not None else ():
                self.attachments.pop(attachment.id, None)
        if message is not None:
            for attachment in message.attachments:
                attachment.path.unlink(missing_ok=True)
        return message

    def channel_messages(self, channel_id: str) -> list[StoredMessage]:
        """The channel's messages, newest first."""
        with self.lock:
            found = [m for m in self.messages.values() if m.channel_id == channel_id]
        return sorted(found, key=lambda m: int(m.id), reverse=True)

    def attachment_path(self, channel_id: str, attachment_id: str) -> Path:
        folder = self.storage_dir / channel_id
        folder.mkdir(exist_ok=True)
        return folder / attachment_id

    def iter_attachment_bytes(self) -> Iterator[tuple[str, bytes]]:
        """Every stored attachment's (id, bytes), e.g. to assert no plaintext leaked."""
        with self.lock:
            attachments = [a for m in self.messages.values() for a in m.attachments]
        for attachment in attachments:
            try:
                yield attachment.id, attachment.path.read_bytes()
            except FileNotFoundError:
                continue  # deleted meanwhile

    # -- signed CDN URLs ---------------------------------------------------------------------

    def sign(
        self, channel_id: str, attachment_id: str, filename: str, expires: int, issued: int
    ) -> str:
        message = f"{channel_id}/{attachment_id}/{filename}:{expires:x}:{issued:x}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def signed_query(self, channel_id: str, attachment_id: str, filename: str) -> str:
        issued = int(self.now())
        expires = int(self.now() + self.config.url_ttl)
        mac = self.sign(channel_id, attachment_id, filename, expires, issued)
        return f"ex={expires:x}&is={issued:x}&hm={mac}&"

    # -- JSON --------------------------------------------------------------------------------

    def message_json(self, message: StoredMessage, base_url: str) -> dict[str, Any]:
        """Discord's message object, with freshly signed attachment URLs."""
        attachments = []
        for a in message.attachments:
            tail = f"attachments/{message.channel_id}/{a.id}/{a.filename}"
            query = self.signed_query(message.channel_id, a.id, a.filename)
            attachments.append(
                {
                    "id": a.id,
                    "filename": a.filename,
                    "size": a.size,
                    "url": f"{base_url}/cdn/{tail}?{query}",
                    "proxy_url": f"{base_url}/media/{tail}?{query}",
                    "content_type": a.content_type,
                }
            )
        stamp = datetime.fromtimestamp(message.created, UTC).isoformat()
        body: dict[str, Any] = {
            "id": message.id,
            "type": 0,
            "channel_id": message.channel_id,
            "content": message.content,
            "author": message.author,
            "timestamp": stamp,
            "edited_timestamp": None,
            "attachments": attachments,
            "embeds": [],
            "mentions": [],
            "pinned": False,
            "tts": False,
        }
        if message.webhook_id is not None:
            body["webhook_id"] = message.webhook_id
        if message.nonce is not None:
            body["nonce"] = message.nonce
        return body

    def bot_author(self) -> dict[str, Any]:
        return {
            "id": self.config.bot_user_id,
            "username": "cordvault-bot",
            "global_name": None,
            "avatar": None,
            "discriminator": "0000",
            "bot": True,
        }

    def close(self) -> None:
        """Delete the temp dir (when the emulator made one)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
