"""A Discord user's avatar image, fetched from the CDN (for the insights dashboard, whose strict
Content-Security-Policy only shows images from our own origin).

SSRF: the URL is built here from the configured CDN base and parts that are checked to be what
Discord issues (a numeric user id, a 32-hex-digit avatar hash with an optional ``a_``), never
from a URL a client or an answer supplies; an avatar hash of any other shape is ignored (the
user gets their default avatar). Redirects are not followed, the CDN never receives the bot
token, and the answer must be a raster image (PNG, GIF, WebP or JPEG by both its
``Content-Type`` and its first bytes: never SVG, never HTML) of at most
:data:`MAX_AVATAR_BYTES`. Animated avatars are asked for as a still PNG at
:data:`AVATAR_SIZE` pixels, which keeps them small.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from cordvault.discord.errors import DiscordNotFound, DiscordRateLimited, DiscordUnavailable
from cordvault.discord.models import User

AVATAR_SIZE = 128
MAX_AVATAR_BYTES = 256 * 1024
"""Largest avatar accepted (a 128-pixel PNG avatar is typically 5-40 KB)."""

_HASH = re.compile(r"(a_)?[0-9a-f]{32}")
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
_ROUTE = "GET cdn avatar"  # what errors name (never a URL)


@dataclass(frozen=True, slots=True)
class Avatar:
    """An avatar's bytes and their (checked) content type."""

    data: bytes
    content_type: str


def avatar_path(user: User) -> str:
    """The CDN path (with query) of ``user``'s avatar, from checked parts only.

    A custom avatar: ``/avatars/{id}/{hash}.png?size=128``; none, or a hash not shaped like
    Discord's: the default avatar ``/embed/avatars/{n}.png`` with Discord's rule for ``n``.
    """
    if not _SNOWFLAKE.fullmatch(user.id):
        raise ValueError("not a Discord user id")
    if user.avatar and _HASH.fullmatch(user.avatar):
        return f"/avatars/{user.id}/{user.avatar}.png?size={AVATAR_SIZE}"
    if user.discriminator.isdigit() and int(user.discriminator) != 0:
        index = int(user.discriminator) % 5
    else:
        index = (int(user.id) >> 22) % 6
    return f"/embed/avatars/{index}.png"


def sniff_image(data: bytes) -> str | None:
    """The raster image type ``data`` starts like, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def fetch_avatar(http: httpx.Client, cdn_base: str, user: User) -> Avatar:
    """Download ``user``'s avatar from the CDN at ``cdn_base``.

    Raises :class:`DiscordNotFound` (the CDN has no such image),
    :class:`DiscordRateLimited` (429) or :class:`DiscordUnavailable` (any other answer, a
    transport failure, an answer that is not a raster image or is over the size cap).
    ``http`` must not carry the bot token and must not follow redirects.
    """
    url = cdn_base.rstrip("/") + avatar_path(user)
    try:
        with http.stream("GET", url, follow_redirects=False) as answer:
            status = answer.status_code
            if status == 404:
                raise DiscordNotFound(None, "no such avatar on the CDN")
            if status == 429:
                retry = answer.headers.get("retry-after", "1")
                try:
                    seconds = float(retry)
                except ValueError:
                    seconds = 1.0
                raise DiscordRateLimited(seconds, f"{_ROUTE}: rate limited")
            if status != 200:
                raise DiscordUnavailable(f"{_ROUTE}: HTTP {status}", status=status)
            declared = answer.headers.get("content-type", "").split(";")[0].strip().lower()
            length = answer.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_AVATAR_BYTES:
                raise DiscordUnavailable(f"{_ROUTE}: image too large")
            body = bytearray()
            for piece in answer.iter_bytes():
                body += piece
                if len(body) > MAX_AVATAR_BYTES:
                    raise DiscordUnavailable(f"{_ROUTE}: image too large")
    except httpx.HTTPError as exc:
        raise DiscordUnavailable(f"{_ROUTE}: {type(exc).__name__}") from None
    data = bytes(body)
    if sniff_image(data) is None or sniff_image(data) != declared:
        raise DiscordUnavailable(f"{_ROUTE}: the answer is not the image it claims to be")
    return Avatar(data, declared)
