"""Discord failures as the chunk-store errors of :mod:`cordvault.storage.base`.

The client's retries have already run when one of these arrives, so transient kinds become
:class:`StorageUnavailable` / :class:`StorageRateLimited` and the bot's own setup problems
(bad token, missing access, a size limit set above the server's) become a permanent
:class:`StorageError` keeping the client's code, so an operator sees what to fix. Messages
name route templates only (the client guarantees it): no token, URL or id leaks through.
"""

from __future__ import annotations

from cordvault.core.errors import ErrorCode
from cordvault.discord import (
    DiscordAuthError,
    DiscordError,
    DiscordForbidden,
    DiscordNotFound,
    DiscordPayloadTooLarge,
    DiscordRateLimited,
    DiscordRequestsHalted,
    DiscordTooManyAttachments,
    DiscordUnavailable,
    DiscordUrlExpired,
)
from cordvault.storage.base import (
    ChunkNotFound,
    StorageError,
    StorageRateLimited,
    StorageUnavailable,
)


def storage_error(exc: DiscordError) -> StorageError:
    """The chunk-store error for a Discord failure (see the module docstring)."""
    if isinstance(exc, DiscordNotFound):
        return ChunkNotFound()
    if isinstance(exc, DiscordRateLimited | DiscordRequestsHalted):
        return StorageRateLimited(f"Discord: {exc.message}")
    if isinstance(exc, DiscordUnavailable | DiscordUrlExpired):
        return StorageUnavailable(f"Discord: {exc.message}")
    if isinstance(
        exc,
        DiscordAuthError | DiscordForbidden | DiscordPayloadTooLarge | DiscordTooManyAttachments,
    ):
        return StorageError(f"Discord refused the request: {exc.message}", exc.code)
    return StorageError(f"Discord: {exc.message}", ErrorCode.UPSTREAM_ERROR)
