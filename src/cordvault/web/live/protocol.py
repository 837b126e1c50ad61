"""The packet envelope, its parsing and the close codes of ``/api/ws``.

A packet is one JSON text frame ``{"id": "namespace:packet-id", "uuid": "...",
"reply_uuid": "...", "data": {...}}`` (discord-cloud's envelope; ``docs/live-protocol.md``
lists every id). ``uuid`` is required on client packets (replies quote it in ``reply_uuid``);
``data`` must be an object (``{}`` when empty).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from cordvault.core.errors import CordvaultError, ErrorCode

# Close codes (documented in docs/live-protocol.md).
CLOSE_UNAUTHORIZED = 4401
"""Authentication failed, or the credentials were revoked (password change, disabled)."""
CLOSE_TIMEOUT = 4408
"""No ``c2s:auth`` in time, or nothing received for ``LIVE_IDLE_TIMEOUT_SECONDS``."""
CLOSE_TOO_SLOW = 4409
"""The client fell ``LIVE_SEND_QUEUE`` packets behind."""
CLOSE_TOO_LARGE = 4413
"""A packet over ``LIVE_MAX_PACKET_BYTES``."""
CLOSE_GOING_AWAY = 1001
"""The server is shutting down."""

_MAX_UUID = 64


@dataclass(frozen=True)
class Packet:
    id: str
    uuid: str
    data: dict[str, Any]


def invalid(message: str, **details: object) -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_PACKET, message, details=details or None)


def parse(text: str) -> Packet:
    """The packet in a text frame, or ``INVALID_PACKET``."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise invalid("a packet is one JSON object") from None
    if not isinstance(raw, dict):
        raise invalid("a packet is one JSON object")
    pid, puid, data = raw.get("id"), raw.get("uuid"), raw.get("data", {})
    if not isinstance(pid, str) or ":" not in pid or len(pid) > 64:
        raise invalid("'id' must be a string 'namespace:packet-id'", field="id")
    if not isinstance(puid, str) or not 0 < len(puid) <= _MAX_UUID:
        raise invalid(f"'uuid' must be a string of 1 to {_MAX_UUID} characters", field="uuid")
    if not isinstance(data, dict):
        raise invalid("'data' must be an object", field="data")
    return Packet(pid, puid, data)


def reply_uuid_of(text: str) -> str | None:
    """Best effort: the ``uuid`` of a packet that failed to parse, to quote in the error."""
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    value = raw.get("uuid") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_UUID else None


def encode(packet_id: str, data: dict[str, Any], reply_to: str | None = None) -> str:
    body: dict[str, Any] = {"id": packet_id, "uuid": str(uuid.uuid4()), "data": data}
    if reply_to is not None:
        body["reply_uuid"] = reply_to
    return json.dumps(body, separators=(",", ":"), default=str)


def error_packet(exc: CordvaultError, reply_to: str | None) -> str:
    """A failed request's answer: discord-cloud's ``generic:boolean`` with ``success: false``,
    plus our stable ``code`` (``docs/errors.md``), the message and details."""
    data: dict[str, Any] = {"success": False, "code": str(exc.code), "message": exc.message}
    if exc.details:
        data["details"] = exc.details
    return encode("generic:boolean", data, reply_to)


# -- field readers for handlers ------------------------------------------------------------


def field_str(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"'data.{name}' must be a non-empty string", field=name)
    return value


def req_str(data: dict[str, Any], name: str) -> str:
    value = field_str(data, name)
    assert value is not None
    return value


def field_bool(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise invalid(f"'data.{name}' must be true or false", field=name)
    return value


def field_int(data: dict[str, Any], name: str, default: int | None, *, lo: int, hi: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"'data.{name}' must be an integer from {lo} to {hi}", field=name)
    return value
