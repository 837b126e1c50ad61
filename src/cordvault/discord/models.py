"""Typed views of the Discord objects cordvault uses.

``from_api`` builds each from Discord's JSON; a malformed object raises ``KeyError``,
``TypeError`` or ``ValueError``, which the client turns into
:class:`~cordvault.discord.errors.DiscordUnavailable`. Attachment URLs are signed credentials:
:class:`Attachment` keeps them out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

CDN_BASE = "https://cdn.discordapp.com"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class User:
    """``GET /users/{id}``: ``id, username, global_name, avatar, discriminator``."""

    id: str
    username: str
    global_name: str | None = None
    avatar: str | None = None
    discriminator: str = "0"
    bot: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> User:
        return cls(
            id=str(data["id"]),
            username=str(data["username"]),
            global_name=_opt_str(data.get("global_name")),
            avatar=_opt_str(data.get("avatar")),
            discriminator=str(data.get("discriminator") or "0"),
            bot=bool(data.get("bot", False)),
        )

    @property
    def display_name(self) -> str:
        """``global_name`` when set, else the username."""
        return self.global_name or self.username

    def avatar_url(self, cdn_base: str = CDN_BASE) -> str:
        """The avatar URL; the default avatar when none is set.

        Custom: ``/avatars/{id}/{hash}.gif`` for animated (``a_``) hashes, ``.png`` otherwise.
        Default: ``/embed/avatars/{n}.png`` with ``n = (id >> 22) % 6`` for new usernames
        (discriminator ``0``) and ``discriminator % 5`` for legacy ones.
        """
        if self.avatar:
            ext = "gif" if self.avatar.startswith("a_") else "png"
            return f"{cdn_base}/avatars/{self.id}/{self.avatar}.{ext}"
        if self.discriminator in ("", "0", "0000"):
            index = (int(self.id) >> 22) % 6
        else:
            index = int(self.discriminator) % 5
        return f"{cdn_base}/embed/avatars/{index}.png"


@dataclass(frozen=True, slots=True)
class Guild:
    """``GET /guilds/{id}?with_counts=true``."""

    id: str
    name: str
    icon: str | None = None
    approximate_member_count: int | None = None
    approximate_presence_count: int | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Guild:
        members = data.get("approximate_member_count")
        presence = data.get("approximate_presence_count")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            icon=_opt_str(data.get("icon")),
            approximate_member_count=None if members is None else int(members),
            approximate_presence_count=None if presence is None else int(presence),
        )

    def icon_url(self, cdn_base: str = CDN_BASE) -> str | None:
        """``/icons/{id}/{hash}.{gif|png}``, or None without an icon."""
        if not self.icon:
            return None
        ext = "gif" if self.icon.startswith("a_") else "png"
        return f"{cdn_base}/icons/{self.id}/{self.icon}.{ext}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """One message attachment. ``url``/``proxy_url`` are signed and expire: never store them."""

    id: str
    filename: str
    size: int
    url: str = field(repr=False)
    proxy_url: str = field(repr=False)
    content_type: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            id=str(data["id"]),
            filename=str(data["filename"]),
            size=int(data["size"]),
            url=str(data["url"]),
            proxy_url=str(data.get("proxy_url") or data["url"]),
            content_type=_opt_str(data.get("content_type")),
        )

    @property
    def expires_at(self) -> float | None:
        """Unix time the signed URL stops working (the ``ex`` hex parameter), if present."""
        values = parse_qs(urlsplit(self.url).query).get("ex")
        if not values:
            return None
        try:
            return float(int(values[0], 16))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Message:
    """A message as cordvault needs it: where it is, who sent it, its attachments."""

    id: str
    channel_id: str
    content: str = ""
    author_id: str | None = None
    webhook_id: str | None = None
    timestamp: datetime | None = None
    attachments: tuple[Attachment, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Message:
        author = data.get("author") or {}
        stamp = data.get("timestamp")
        return cls(
            id=str(data["id"]),
            channel_id=str(data["channel_id"]),
            content=str(data.get("content") or ""),
            author_id=_opt_str(author.get("id")),
            webhook_id=_opt_str(data.get("webhook_id")),
            timestamp=datetime.fromisoformat(stamp) if isinstance(stamp, str) else None,
            attachments=tuple(Attachment.from_api(a) for a in data.get("attachments") or ()),
        )
