"""Channel metadata: ``channel.json`` classification and the two ``index.json`` files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

_TYPE_NAMES = {
    0: "GUILD_TEXT",
    1: "DM",
    2: "GUILD_VOICE",
    3: "GROUP_DM",
    4: "GUILD_CATEGORY",
    5: "GUILD_ANNOUNCEMENT",
    10: "ANNOUNCEMENT_THREAD",
    11: "PUBLIC_THREAD",
    12: "PRIVATE_THREAD",
    13: "GUILD_STAGE_VOICE",
    14: "GUILD_DIRECTORY",
    15: "GUILD_FORUM",
    16: "GUILD_MEDIA",
}
_KNOWN = set(_TYPE_NAMES.values())
_DM_PREFIX = "Direct Message with "
_NEW_TAG = re.compile(r"#(?:0|0000)$")
_LEGACY_TAG = re.compile(r"#(\d{4})$")


class ChannelKind(StrEnum):
    GUILD = "guild"
    DM = "dm"
    GROUP_DM = "group_dm"
    OTHER = "other"


@dataclass(frozen=True)
class ChannelInfo:
    """What ``channel.json`` tells about one channel."""

    id: str
    kind: ChannelKind
    type_name: str
    name: str | None
    guild_id: str | None
    guild_name: str | None
    recipients: tuple[str, ...]


def type_name(raw: Any) -> str:
    """Normalise an int or string channel type to its name (``UNKNOWN_<v>`` if unknown)."""
    if isinstance(raw, bool):
        return f"UNKNOWN_{raw}"
    if isinstance(raw, int):
        return _TYPE_NAMES.get(raw, f"UNKNOWN_{raw}")
    if isinstance(raw, str):
        if raw.isdigit():
            return _TYPE_NAMES.get(int(raw), f"UNKNOWN_{raw}")
        return raw if raw in _KNOWN else f"UNKNOWN_{raw}"
    return f"UNKNOWN_{raw}"


def parse_channel(channel_id: str, raw_bytes: bytes) -> ChannelInfo | None:
    """Classify a channel; None when ``channel.json`` is not a JSON object."""
    try:
        raw = orjson.loads(raw_bytes)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    tname = type_name(raw.get("type"))
    recipients = tuple(str(r) for r in raw.get("recipients") or [] if r is not None)
    guild = raw.get("guild")
    name = raw.get("name")
    name = str(name) if name not in (None, "") else None
    if isinstance(guild, dict) and guild.get("id") is not None:
        gname = guild.get("name")
        return ChannelInfo(
            channel_id,
            ChannelKind.GUILD,
            tname,
            name,
            str(guild["id"]),
            str(gname) if gname not in (None, "") else None,
            recipients,
        )
    unknown = tname.startswith("UNKNOWN_")
    if tname == "DM" or (unknown and len(recipients) == 2):
        kind = ChannelKind.DM
    elif tname == "GROUP_DM" or len(recipients) > 2:
        kind = ChannelKind.GROUP_DM
    else:
        kind = ChannelKind.OTHER
    return ChannelInfo(channel_id, kind, tname, name, None, None, recipients)


def parse_index(raw_bytes: bytes | None) -> dict[str, str | None]:
    """An ``index.json`` ({id: name | null}); malformed or absent -> empty."""
    if not raw_bytes:
        return {}
    try:
        raw = orjson.loads(raw_bytes)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): (str(v) if v is not None else None) for k, v in raw.items()}


def dm_index_name(name: str | None) -> tuple[str | None, str | None]:
    """(display name, legacy discriminator) from ``Direct Message with <user>#<discrim>``.

    ``#0``/``#0000`` suffixes are removed; a legacy ``#1234`` is kept in the name and also
    returned as the discriminator (for the default avatar).
    """
    if not name or not name.startswith(_DM_PREFIX):
        return None, None
    who = name[len(_DM_PREFIX) :]
    if _NEW_TAG.search(who):
        return _NEW_TAG.sub("", who), None
    legacy = _LEGACY_TAG.search(who)
    return who, (legacy.group(1) if legacy else None)


def guild_channel_index_name(name: str | None) -> str | None:
    """The channel part of ``<channel> in <guild>``."""
    if not name or " in " not in name:
        return None
    return name.rsplit(" in ", 1)[0] or None


def guild_name_from_index(name: str | None) -> str | None:
    """The guild part of ``<channel> in <guild>``."""
    if not name or " in " not in name:
        return None
    return name.rsplit(" in ", 1)[1] or None
