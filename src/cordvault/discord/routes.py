"""A request route: a method, a path template and its parameters.

The template (``/channels/{channel_id}/messages``) is what logs and errors show; the filled path
is never logged (webhook paths carry the webhook token). Discord keys rate-limit buckets by the
route plus its *major parameter* (channel, guild or webhook): :attr:`Route.bucket_key` mirrors
that, hashing the webhook token so it never sits in the pacer's tables in clear.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.discord.snowflake import is_snowflake

_MAJOR = ("channel_id", "guild_id", "webhook_id")
_WEBHOOK_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def require_snowflake(name: str, value: str) -> str:
    """Return ``value`` if it is a Discord id, else raise ``INVALID_INPUT`` (value not echoed)."""
    if not isinstance(value, str) or not is_snowflake(value):
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"{name} must be a Discord id (digits)")
    return value


@dataclass(frozen=True)
class Route:
    """One API call's identity. Parameters are validated so a bad id never reaches Discord."""

    method: str
    template: str
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.params.items():
            if name == "webhook_token":
                if not _WEBHOOK_TOKEN.fullmatch(value):
                    raise CordvaultError(
                        ErrorCode.INVALID_INPUT, f"invalid {name} for {self.label}"
                    )
            else:
                require_snowflake(name, value)

    @property
    def path(self) -> str:
        """The filled-in path (secret for webhook routes: never log it)."""
        return _PLACEHOLDER.sub(lambda m: quote(self.params[m.group(1)], safe=""), self.template)

    @property
    def label(self) -> str:
        """``METHOD /template``: safe to log."""
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        """The major parameter's value ('' when the route has none); webhook tokens hashed."""
        for name in _MAJOR:
            if name in self.params:
                value = self.params[name]
                if name == "webhook_id" and "webhook_token" in self.params:
                    token = self.params["webhook_token"].encode()
                    value += ":" + hashlib.sha256(token).hexdigest()[:16]
                return value
        return ""

    @property
    def bucket_key(self) -> tuple[str, str]:
        """(method + template, major): the pacer's key until Discord names the bucket."""
        return (self.label, self.major)

    @property
    def is_webhook(self) -> bool:
        """Webhook-token routes are authenticated by the URL, not the bot token."""
        return "webhook_token" in self.params
