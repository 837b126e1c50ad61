"""Discord: the REST client with its rate-limit pacer, and (in ``emulator``) a local Discord.

Callers use :class:`DiscordClient`; failures are the classified errors re-exported here.
"""

from cordvault.discord.client import ClientStats, DiscordClient
from cordvault.discord.errors import (
    DiscordAuthError,
    DiscordBadRequest,
    DiscordError,
    DiscordForbidden,
    DiscordNotFound,
    DiscordOutcomeUnknown,
    DiscordPayloadTooLarge,
    DiscordRangeNotSatisfiable,
    DiscordRateLimited,
    DiscordRequestsHalted,
    DiscordTooManyAttachments,
    DiscordUnavailable,
    DiscordUrlExpired,
)
from cordvault.discord.models import Attachment, Guild, Message, User
from cordvault.discord.ratelimit import RateLimiter
from cordvault.discord.retry import Backoff

__all__ = [
    "Attachment",
    "Backoff",
    "ClientStats",
    "DiscordAuthError",
    "DiscordBadRequest",
    "DiscordClient",
    "DiscordError",
    "DiscordForbidden",
    "DiscordNotFound",
    "DiscordOutcomeUnknown",
    "DiscordPayloadTooLarge",
    "DiscordRangeNotSatisfiable",
    "DiscordRateLimited",
    "DiscordRequestsHalted",
    "DiscordTooManyAttachments",
    "DiscordUnavailable",
    "DiscordUrlExpired",
    "Guild",
    "Message",
    "RateLimiter",
    "User",
]
