"""The one application error family.

Every failure a user can cause or meet is a :class:`CordvaultError` carrying a stable
machine-readable ``code`` (documented in ``docs/errors.md``), an HTTP status for the web adapter
and an exit code for the CLI adapter. Adapters translate it once at their boundary; foreign
exceptions are translated into it where they are caught (``raise CordvaultError(...) from exc``).

Messages must never contain secrets (UPNs, links, tokens, keys, signed URLs, file names of other
users): they are shown to users and written to logs.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes. Never rename one: clients match on them."""

    # generic
    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    CSRF_FAILED = "CSRF_FAILED"
    MISSING_SETTINGS = "MISSING_SETTINGS"
    INVALID_SETTINGS = "INVALID_SETTINGS"
    # package analysis (insights)
    NOT_A_ZIP = "NOT_A_ZIP"
    CORRUPT_ZIP = "CORRUPT_ZIP"
    PACKAGE_TOO_LARGE = "PACKAGE_TOO_LARGE"
    MISSING_USER_DATA = "MISSING_USER_DATA"
    MALFORMED_PACKAGE = "MALFORMED_PACKAGE"
    # blob / crypto
    CORRUPT_BLOB = "CORRUPT_BLOB"
    WRONG_KEY = "WRONG_KEY"
    # insights server (Dumpus contract codes)
    UNKNOWN_PACKAGE_ID = "UNKNOWN_PACKAGE_ID"
    EXPIRED_LINK = "EXPIRED_LINK"
    INVALID_LINK = "INVALID_LINK"
    CANCELLED = "CANCELLED"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    DOWNLOAD_TIMEOUT = "DOWNLOAD_TIMEOUT"
    WORKER_LOST = "WORKER_LOST"
    # drive / storage
    INTEGRITY_ERROR = "INTEGRITY_ERROR"
    STORAGE_FULL = "STORAGE_FULL"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    # drive metadata and uploads
    INVALID_NAME = "INVALID_NAME"
    NAME_CONFLICT = "NAME_CONFLICT"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    TREE_CORRUPT = "TREE_CORRUPT"
    NO_THUMBNAIL = "NO_THUMBNAIL"
    # live events (WebSocket packets)
    INVALID_PACKET = "INVALID_PACKET"
    UNKNOWN_PACKET = "UNKNOWN_PACKET"
    PACKET_TOO_LARGE = "PACKET_TOO_LARGE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    # Discord REST client (the bot's own setup or Discord's answer, not the end user's input)
    DISCORD_AUTH_FAILED = "DISCORD_AUTH_FAILED"
    DISCORD_FORBIDDEN = "DISCORD_FORBIDDEN"
    DISCORD_PAYLOAD_TOO_LARGE = "DISCORD_PAYLOAD_TOO_LARGE"
    DISCORD_TOO_MANY_ATTACHMENTS = "DISCORD_TOO_MANY_ATTACHMENTS"
    DISCORD_URL_EXPIRED = "DISCORD_URL_EXPIRED"
    DISCORD_REQUESTS_HALTED = "DISCORD_REQUESTS_HALTED"


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.NOT_A_ZIP: 400,
    ErrorCode.CORRUPT_ZIP: 400,
    ErrorCode.MALFORMED_PACKAGE: 400,
    ErrorCode.MISSING_USER_DATA: 400,
    ErrorCode.INVALID_LINK: 400,
    ErrorCode.EXPIRED_LINK: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.WRONG_KEY: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNKNOWN_PACKAGE_ID: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_NAME: 400,
    ErrorCode.NAME_CONFLICT: 409,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.CHECKSUM_MISMATCH: 422,
    ErrorCode.CANCELLED: 409,
    ErrorCode.PACKAGE_TOO_LARGE: 413,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.CORRUPT_BLOB: 422,
    ErrorCode.INTEGRITY_ERROR: 500,
    ErrorCode.TREE_CORRUPT: 500,
    ErrorCode.NO_THUMBNAIL: 404,
    ErrorCode.INVALID_PACKET: 400,
    ErrorCode.UNKNOWN_PACKET: 400,
    ErrorCode.PACKET_TOO_LARGE: 413,
    ErrorCode.QUOTA_EXCEEDED: 507,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UPSTREAM_ERROR: 502,
    ErrorCode.DOWNLOAD_FAILED: 502,
    ErrorCode.DOWNLOAD_TIMEOUT: 504,
    ErrorCode.WORKER_LOST: 500,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.STORAGE_FULL: 507,
    ErrorCode.DISCORD_AUTH_FAILED: 502,
    ErrorCode.DISCORD_FORBIDDEN: 502,
    ErrorCode.DISCORD_PAYLOAD_TOO_LARGE: 413,
    ErrorCode.DISCORD_TOO_MANY_ATTACHMENTS: 400,
    ErrorCode.DISCORD_URL_EXPIRED: 502,
    ErrorCode.DISCORD_REQUESTS_HALTED: 503,
}

# CLI exit codes: 1 generic failure, 2 usage (Typer's own), 3 bad input, 4 auth/key, 5 not found,
# 6 upstream/storage trouble, 7 configuration.
_EXIT_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 3,
    ErrorCode.INVALID_NAME: 3,
    ErrorCode.NAME_CONFLICT: 3,
    ErrorCode.UPLOAD_INCOMPLETE: 3,
    ErrorCode.QUOTA_EXCEEDED: 3,
    ErrorCode.CHECKSUM_MISMATCH: 3,
    ErrorCode.NOT_A_ZIP: 3,
    ErrorCode.CORRUPT_ZIP: 3,
    ErrorCode.PACKAGE_TOO_LARGE: 3,
    ErrorCode.BODY_TOO_LARGE: 3,
    ErrorCode.MISSING_USER_DATA: 3,
    ErrorCode.MALFORMED_PACKAGE: 3,
    ErrorCode.CORRUPT_BLOB: 3,
    ErrorCode.INVALID_LINK: 3,
    ErrorCode.EXPIRED_LINK: 3,
    ErrorCode.WRONG_KEY: 4,
    ErrorCode.UNAUTHORIZED: 4,
    ErrorCode.FORBIDDEN: 4,
    ErrorCode.CSRF_FAILED: 4,
    ErrorCode.NOT_FOUND: 5,
    ErrorCode.NO_THUMBNAIL: 5,
    ErrorCode.UNKNOWN_PACKAGE_ID: 5,
    ErrorCode.INVALID_PACKET: 3,
    ErrorCode.UNKNOWN_PACKET: 3,
    ErrorCode.PACKET_TOO_LARGE: 3,
    ErrorCode.UPSTREAM_ERROR: 6,
    ErrorCode.DOWNLOAD_FAILED: 6,
    ErrorCode.DOWNLOAD_TIMEOUT: 6,
    ErrorCode.STORAGE_UNAVAILABLE: 6,
    ErrorCode.STORAGE_FULL: 6,
    ErrorCode.RATE_LIMITED: 6,
    ErrorCode.MISSING_SETTINGS: 7,
    ErrorCode.INVALID_SETTINGS: 7,
    ErrorCode.DISCORD_AUTH_FAILED: 7,
    ErrorCode.DISCORD_FORBIDDEN: 7,
    ErrorCode.DISCORD_PAYLOAD_TOO_LARGE: 3,
    ErrorCode.DISCORD_TOO_MANY_ATTACHMENTS: 3,
    ErrorCode.DISCORD_URL_EXPIRED: 6,
    ErrorCode.DISCORD_REQUESTS_HALTED: 6,
}


class CordvaultError(Exception):
    """An expected failure with a stable code and a user-safe message.

    ``http_status`` and ``exit_code`` default from the code's table but may be overridden for a
    specific situation. ``details`` holds extra JSON-safe, secret-free facts (e.g. the limit that
    was exceeded).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        http_status: int | None = None,
        exit_code: int | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status if http_status is not None else _HTTP_STATUS.get(code, 500)
        self.exit_code = exit_code if exit_code is not None else _EXIT_CODE.get(code, 1)
        self.details = details or {}

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (analysis workers, job processes). Subclasses have
        # their own __init__ signatures, so rebuild from the state instead of calling it.
        return (_rebuild_error, (type(self), dict(self.__dict__)))

    def to_dict(self) -> dict[str, object]:
        """The one JSON error shape every endpoint uses."""
        body: dict[str, object] = {"errorMessageCode": str(self.code), "message": self.message}
        if self.details:
            body["details"] = self.details
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _rebuild_error(cls: type[CordvaultError], state: dict[str, object]) -> CordvaultError:
    """Unpickle any :class:`CordvaultError` (subclass) without calling its ``__init__``."""
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error
