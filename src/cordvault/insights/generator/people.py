"""Users of a generated package and the tag / avatar rules of the semantics doc.

The rules here are a plain, independent reading of ``docs/insights-semantics.md`` ("Names and
avatars"); the expected aggregates use them, never the parser's own code.
"""

from __future__ import annotations

from dataclasses import dataclass

CDN = "https://cdn.discordapp.com"
NEW_DISCRIMINATORS = frozenset({"0", "0000", ""})


@dataclass(frozen=True)
class Person:
    """A Discord user as user.json / relationships describe it."""

    id: str
    username: str
    discriminator: str
    global_name: str | None  # None: the key is absent from the file
    avatar: str | None

    def as_json(self, avatar_key: str = "avatar") -> dict[str, object]:
        """The user object as the package writes it."""
        data: dict[str, object] = {
            "id": self.id,
            "username": self.username,
            "discriminator": self.discriminator,
        }
        if self.global_name is not None:
            data["global_name"] = self.global_name
        data[avatar_key] = self.avatar
        return data


def tag(username: str, discriminator: str | None) -> str:
    """``username`` for new usernames, ``username#dddd`` for legacy ones."""
    if discriminator is None or discriminator in NEW_DISCRIMINATORS:
        return username
    return f"{username}#{discriminator}"


def display_name(global_name: str | None) -> str | None:
    """``global_name``, NULL when absent or empty."""
    return global_name or None


def avatar_url(user_id: str, avatar: str | None, discriminator: str | None) -> str | None:
    """The CDN avatar URL; the default avatar without a hash; None for a non-numeric id."""
    if not user_id.isdigit():
        return None
    if avatar:
        ext = "gif" if avatar.startswith("a_") else "png"
        return f"{CDN}/avatars/{user_id}/{avatar}.{ext}"
    if discriminator is None or discriminator in NEW_DISCRIMINATORS:
        index = (int(user_id) >> 22) % 6
    else:
        index = int(discriminator) % 5
    return f"{CDN}/embed/avatars/{index}.png"
