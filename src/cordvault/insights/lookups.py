"""``/user`` and ``/widget`` lookups through the Discord REST client, cached 24 hours.

Outcomes (the Dumpus contract): a user or guild Discord does not know -> ``NOT_FOUND`` (404);
Discord rate limiting us beyond a short wait -> ``RATE_LIMITED`` (429, with ``retry_after``;
the client retries after 500 ms); any other upstream failure -> ``UPSTREAM_ERROR`` as HTTP 500
for ``/user`` and 404 for ``/widget`` (the widget is decorative). Ids must be numeric
snowflakes (``INVALID_INPUT`` otherwise). Found objects are cached 24 h, unknown ones 5 minutes.

Avatars (``/process/<id>/user/<user_id>/avatar``, for the dashboard whose CSP shows only images
from our origin): the image bytes fetched from ``DISCORD_CDN_BASE`` by
:func:`cordvault.discord.avatars.fetch_avatar` (URL built from the looked-up user, never from a
client: see there), cached 24 h in at most :data:`AVATAR_CACHE_BYTES` of memory. The CDN failing
-> ``UPSTREAM_ERROR`` (HTTP 502: the image is decorative, the page keeps the initials).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast

import httpx

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.discord.avatars import Avatar, avatar_path, fetch_avatar
from cordvault.insights.api_models import UserLookupOut, WidgetOut

if TYPE_CHECKING:
    from cordvault.discord.errors import DiscordRateLimited

USER_TTL = 24 * 3600.0
NEGATIVE_TTL = 300.0
_MAX_ENTRIES = 50_000
AVATAR_CACHE_BYTES = 32 * 1024 * 1024
"""Memory the cached avatar images may take (least recently used ones go first)."""


def _rate_limited(exc: DiscordRateLimited, message: str) -> CordvaultError:
    """Discord's 429 as our RATE_LIMITED, with the delay it asked for (seconds)."""
    return CordvaultError(
        ErrorCode.RATE_LIMITED, message, details={"retry_after": round(exc.retry_after, 3)}
    )


class _TTLCache:
    """A small thread-safe LRU with per-entry expiry."""

    def __init__(self, max_entries: int = _MAX_ENTRIES, max_bytes: int | None = None) -> None:
        self._data: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: Any, ttl: float, size: int = 0) -> None:
        """Keep ``value`` for ``ttl`` seconds; ``size`` counts against ``max_bytes``."""
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (time.monotonic() + ttl, value, size)
            self._bytes += size
            while len(self._data) > self._max or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                self._drop(next(iter(self._data)))

    def _drop(self, key: str) -> None:
        self._bytes -= self._data.pop(key)[2]


class Lookups:
    """User and guild lookups for the web routes. Thread-safe; one per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache = _TTLCache()
        self._client: Any = None
        self._cdn: Any = None
        self._avatars = _TTLCache(max_entries=_MAX_ENTRIES, max_bytes=AVATAR_CACHE_BYTES)
        self._lock = threading.Lock()

    def user(self, user_id: str) -> UserLookupOut:
        """``{"user_id", "display_name", "avatar_url", "username"}`` of a Discord user."""
        user = self._user(user_id)
        return UserLookupOut(
            user_id=user_id,
            display_name=user.global_name,
            avatar_url=user.avatar_url(),
            username=user.username,
        )

    def avatar(self, user_id: str) -> Avatar:
        """The avatar image of a Discord user (their default avatar when they set none).

        The user is looked up first (``NOT_FOUND`` when Discord does not know them, errors as
        :meth:`user`); the image comes from ``DISCORD_CDN_BASE``: ``NOT_FOUND`` when the CDN has
        none, ``RATE_LIMITED`` on a 429, ``UPSTREAM_ERROR`` (502) for anything else, an answer
        that is not a raster image included.
        """
        from cordvault.discord.errors import DiscordNotFound, DiscordRateLimited

        user = self._user(user_id)
        key = f"avatar:{avatar_path(user)}"
        cached = self._avatars.get(key)
        if cached is not None:
            return cast(Avatar, cached)
        try:
            image = fetch_avatar(self._cdn_client(), self.settings.discord_cdn_base, user)
        except DiscordNotFound:
            raise CordvaultError(ErrorCode.NOT_FOUND, "no avatar image for this user") from None
        except DiscordRateLimited as exc:
            raise _rate_limited(exc, "the Discord CDN is rate limiting; retry shortly") from None
        except CordvaultError as exc:
            raise CordvaultError(
                ErrorCode.UPSTREAM_ERROR, "the avatar could not be fetched", http_status=502
            ) from exc
        self._avatars.put(key, image, USER_TTL, size=len(image.data))
        return image

    def widget(self, guild_id: str) -> WidgetOut:
        """``{"name", "icon_url", "member_count"}`` of a guild the bot can see."""
        _check_snowflake(guild_id)
        key = f"guild:{guild_id}"
        cached = self._cache.get(key)
        if cached is None:
            cached = self._fetch(
                key, lambda c: c.get_guild(guild_id, with_counts=True), widget=True
            )
        if cached == "missing":
            raise CordvaultError(ErrorCode.NOT_FOUND, "guild unavailable")
        guild = cached
        return WidgetOut(
            name=guild.name,
            icon_url=guild.icon_url(),
            member_count=guild.approximate_member_count,
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._cdn is not None:
                self._cdn.close()
                self._cdn = None

    def _user(self, user_id: str) -> Any:
        """The cached or freshly fetched :class:`~cordvault.discord.models.User`."""
        _check_snowflake(user_id)
        key = f"user:{user_id}"
        cached = self._cache.get(key)
        if cached is None:
            cached = self._fetch(key, lambda c: c.get_user(user_id), widget=False)
        if cached == "missing":
            raise CordvaultError(ErrorCode.NOT_FOUND, "unknown Discord user")
        return cached

    def _cdn_client(self) -> httpx.Client:
        # Its own client: no bot token may ever reach the CDN, and redirects are refused.
        with self._lock:
            if self._cdn is None:
                self._cdn = httpx.Client(
                    timeout=10.0, follow_redirects=False, headers={"accept": "image/*"}
                )
            return cast(httpx.Client, self._cdn)

    def _fetch(self, key: str, call: Any, *, widget: bool) -> Any:
        from cordvault.discord.errors import (
            DiscordError,
            DiscordForbidden,
            DiscordNotFound,
            DiscordRateLimited,
        )

        try:
            value = call(self._discord())
        except DiscordNotFound:
            self._cache.put(key, "missing", NEGATIVE_TTL)
            return "missing"
        except DiscordForbidden:
            if widget:
                self._cache.put(key, "missing", NEGATIVE_TTL)
                return "missing"
            raise CordvaultError(
                ErrorCode.UPSTREAM_ERROR, "Discord refused the lookup", http_status=500
            ) from None
        except DiscordRateLimited as exc:
            raise _rate_limited(exc, "Discord is rate limiting lookups; retry shortly") from exc
        except DiscordError as exc:
            if widget:
                raise CordvaultError(ErrorCode.NOT_FOUND, "guild unavailable") from exc
            raise CordvaultError(
                ErrorCode.UPSTREAM_ERROR, "the Discord lookup failed", http_status=500
            ) from exc
        self._cache.put(key, value, USER_TTL)
        return value

    def _discord(self) -> Any:
        from cordvault.discord.client import DiscordClient

        with self._lock:
            if self._client is None:
                token = self.settings.discord_bot_token
                if token is None or not token.get_secret_value():
                    raise CordvaultError(
                        ErrorCode.MISSING_SETTINGS,
                        "lookups need DISCORD_BOT_TOKEN",
                        http_status=500,
                    )
                # A web request must not wait out a long rate limit: a short wait, then 429.
                self._client = DiscordClient(
                    self.settings.discord_api_base,
                    token.get_secret_value().split(",")[0].strip(),
                    timeout=10.0,
                    max_retries=2,
                    max_rate_limit_wait=1.0,
                )
            return self._client


def _check_snowflake(value: str) -> None:
    if not value.isdigit() or len(value) > 20:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the id must be a numeric Discord id")
