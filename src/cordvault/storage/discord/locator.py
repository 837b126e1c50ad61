"""Discord chunk locators, format v1: where a chunk lives, by ids only (never a URL).

``dv1.<bot>.<channel>.<message>.<attachment>.<index>.<count>.<size>``

- ``bot``: position of the token that posted the message in ``DISCORD_BOT_TOKEN`` (its own
  messages need no extra permission to delete);
- ``channel``, ``message``, ``attachment``: Discord snowflakes;
- ``index``: the attachment's position in the message, ``count``: how many chunks the message
  carries (the message is deleted once all ``count`` are deleted);
- ``size``: the chunk's length in bytes (ranges are checked without a request; a 0-byte chunk
  is stored as a 1-byte filler attachment, as Discord refuses empty files).

Signed CDN URLs expire and are credentials, so they are resolved when needed
(:mod:`cordvault.storage.discord.urlcache`). Anything that does not parse is "no such chunk".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "dv1"
_SNOWFLAKE = r"[0-9]{1,20}"
_PATTERN = re.compile(
    rf"dv1\.([0-9]{{1,3}})\.({_SNOWFLAKE})\.({_SNOWFLAKE})\.({_SNOWFLAKE})"
    r"\.([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{1,12})"
)


@dataclass(frozen=True, slots=True)
class Locator:
    """One stored chunk: an attachment of a message, by ids."""

    bot: int
    channel_id: str
    message_id: str
    attachment_id: str
    index: int
    count: int
    size: int

    def __str__(self) -> str:
        return (
            f"{PREFIX}.{self.bot}.{self.channel_id}.{self.message_id}.{self.attachment_id}"
            f".{self.index}.{self.count}.{self.size}"
        )

    @classmethod
    def parse(cls, text: object) -> Locator | None:
        """The locator ``text`` encodes, or None when it is not a valid v1 locator."""
        match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            return None
        bot, channel, message, attachment, index, count, size = match.groups()
        loc = cls(int(bot), channel, message, attachment, int(index), int(count), int(size))
        if not 0 <= loc.index < loc.count:
            return None
        return loc
