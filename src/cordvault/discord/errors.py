"""Classified Discord failures.

Every failure the client raises is a :class:`DiscordError` (a
:class:`~cordvault.core.errors.CordvaultError`), classified so callers decide without parsing
status codes:

- :class:`DiscordNotFound` - the object does not exist (``discord_code`` 10003 unknown channel,
  10008 unknown message, 10013 unknown user, 10004 unknown guild, ...). Permanent.
- :class:`DiscordRateLimited` - rate limited for longer than the client was willing to wait, or
  retries ran out on 429s; ``retry_after`` says when to come back. Transient.
- :class:`DiscordUnavailable` - 5xx, timeouts, connection resets after the client's own retries.
  Transient. :class:`DiscordOutcomeUnknown` is the case where a non-idempotent request may have
  been applied by Discord (see :mod:`cordvault.discord.retry`).
- :class:`DiscordAuthError` (401), :class:`DiscordForbidden` (403 / 50001) - the bot's own setup
  is wrong. Permanent until an operator fixes it.
- :class:`DiscordPayloadTooLarge` (413 / 40005), :class:`DiscordTooManyAttachments` (30015) -
  the caller sent too much. Permanent for that payload.
- :class:`DiscordUrlExpired` - a signed CDN URL expired or was refused; fetch a fresh one with
  ``get_message`` and try again.
- :class:`DiscordRequestsHalted` - the invalid-request breaker tripped; the client refuses to
  send anything until the 10-minute window drains (protects the IP from Discord's ban).
- :class:`DiscordBadRequest` - any other 4xx Discord refused (``discord_code`` says why).

Messages name route templates (``GET /users/{id}``), never full URLs, tokens or file names.
"""

from __future__ import annotations

from cordvault.core.errors import CordvaultError, ErrorCode


class DiscordError(CordvaultError):
    """Base of every Discord failure. ``status`` is the HTTP status (None: no response)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        discord_code: int | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        facts: dict[str, object] = dict(details or {})
        if status is not None:
            facts.setdefault("status", status)
        if discord_code is not None:
            facts.setdefault("discord_code", discord_code)
        super().__init__(code, message, details=facts)
        self.status = status
        self.discord_code = discord_code


class DiscordNotFound(DiscordError):
    """404: unknown channel (10003), message (10008), user (10013), guild (10004), ..."""

    def __init__(self, code: int | None, message: str = "not found on Discord") -> None:
        super().__init__(ErrorCode.NOT_FOUND, message, status=404, discord_code=code)


class DiscordRateLimited(DiscordError):
    """429 that outlasted the client's patience; ``retry_after`` is in seconds."""

    def __init__(
        self,
        retry_after: float,
        message: str = "rate limited by Discord",
        *,
        is_global: bool = False,
    ) -> None:
        super().__init__(
            ErrorCode.RATE_LIMITED,
            message,
            status=429,
            details={"retry_after": round(retry_after, 3), "global": is_global},
        )
        self.retry_after = retry_after
        self.is_global = is_global


class DiscordUnavailable(DiscordError):
    """Transient trouble (5xx, timeout, reset) that outlasted the retries."""

    def __init__(
        self, message: str = "Discord is unavailable", *, status: int | None = None
    ) -> None:
        super().__init__(ErrorCode.UPSTREAM_ERROR, message, status=status)


class DiscordOutcomeUnknown(DiscordUnavailable):
    """A non-idempotent request failed after it may have reached Discord.

    Discord may or may not have applied it (e.g. created the message). The caller must not
    assume either: see :mod:`cordvault.discord.retry` for how to resolve it.
    """


class DiscordAuthError(DiscordError):
    """401: the bot token (or webhook token) is invalid."""

    def __init__(self, message: str = "Discord refused the bot token") -> None:
        super().__init__(ErrorCode.DISCORD_AUTH_FAILED, message, status=401)


class DiscordForbidden(DiscordError):
    """403: the bot lacks access or a permission (50001 missing access, 50013 permissions)."""

    def __init__(self, code: int | None = 50001, message: str = "the bot lacks access") -> None:
        super().__init__(ErrorCode.DISCORD_FORBIDDEN, message, status=403, discord_code=code)


class DiscordPayloadTooLarge(DiscordError):
    """413 / 40005: a file or the whole request is over Discord's size limit."""

    def __init__(self, message: str = "upload too large for Discord") -> None:
        super().__init__(
            ErrorCode.DISCORD_PAYLOAD_TOO_LARGE, message, status=413, discord_code=40005
        )


class DiscordTooManyAttachments(DiscordError):
    """30015: more attachments than one message may carry."""

    def __init__(self, message: str = "too many attachments for one message") -> None:
        super().__init__(
            ErrorCode.DISCORD_TOO_MANY_ATTACHMENTS, message, status=400, discord_code=30015
        )


class DiscordUrlExpired(DiscordError):
    """The CDN refused a signed attachment URL (expired or invalid): refresh it."""

    def __init__(self, status: int | None, message: str = "attachment URL expired") -> None:
        super().__init__(ErrorCode.DISCORD_URL_EXPIRED, message, status=status)


class DiscordRequestsHalted(DiscordError):
    """The invalid-request breaker is open; nothing is sent until the window drains."""

    def __init__(self, retry_after: float, count: int, threshold: int) -> None:
        super().__init__(
            ErrorCode.DISCORD_REQUESTS_HALTED,
            f"halted after {count} invalid Discord requests (threshold {threshold}) "
            "to stay clear of Discord's IP ban",
            details={"retry_after": round(retry_after, 3), "count": count, "threshold": threshold},
        )
        self.retry_after = retry_after


class DiscordBadRequest(DiscordError):
    """Any other 4xx; ``discord_code`` carries Discord's JSON error code when there was one."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(ErrorCode.UPSTREAM_ERROR, message, status=status, discord_code=code)


class DiscordRangeNotSatisfiable(DiscordError):
    """416 from the CDN: the range starts past the attachment's end (``size`` when known)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(
            ErrorCode.RANGE_NOT_SATISFIABLE,
            "range outside the attachment",
            status=416,
            details={"size": size} if size is not None else None,
        )
        self.size = size
