"""The emulated CDN's avatars: ``/cdn/avatars/{user_id}/{hash}.png`` and
``/cdn/embed/avatars/{n}.png``, as Discord's CDN serves them (``DISCORD_CDN_BASE`` points at
``<emulator>/cdn``).

A user's avatar exists when the emulated user's ``avatar`` field is that hash; its bytes are a
small PNG derived from the hash (:func:`avatar_png`), so a test can compute what must arrive.
Default avatars ``0``-``5`` exist for everyone. ``EmulatorConfig.avatar_overrides`` replaces an
answer (keyed by the hash, or ``embed/<n>``) with any bytes and content type, to test what a
client does with a CDN that answers something other than an image. Only ``.png`` is served
(cordvault asks for nothing else); every request is counted (``GET /cdn/avatars``,
``GET /cdn/embed/avatars``) and one carrying an ``Authorization`` header is flagged, as for
attachments.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cordvault.discord.emulator.state import EmulatorState

_SIDE = 16


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def avatar_rgb(seed: str) -> tuple[int, int, int]:
    """The colour of :func:`avatar_png` for ``seed``."""
    r, g, b = hashlib.sha256(seed.encode()).digest()[:3]
    return r, g, b


def avatar_png(seed: str) -> bytes:
    """A 16x16 single-colour PNG whose colour comes from ``seed`` (deterministic)."""
    r, g, b = avatar_rgb(seed)
    row = b"\x00" + bytes((r, g, b)) * _SIDE  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", _SIDE, _SIDE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * _SIDE))
        + _chunk(b"IEND", b"")
    )


class Avatars:
    """The two CDN avatar routes over the emulator's state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _answer(self, key: str, seed: str) -> Response:
        override = self.state.config.avatar_overrides.get(key)
        if override is not None:
            body, content_type = override
            return Response(body, media_type=content_type)
        return Response(avatar_png(seed), media_type="image/png")

    async def user_avatar(self, request: Request) -> Response:
        state = self.state
        state.count_request("GET /cdn/avatars")
        if "authorization" in request.headers:
            state.count_cdn_authorization()
        user_id = str(request.path_params["user_id"])
        avatar_hash, dot, ext = str(request.path_params["filename"]).rpartition(".")
        user = state.config.users.get(user_id)
        if not dot or ext != "png" or user is None or user.get("avatar") != avatar_hash:
            return PlainTextResponse("Not found.", status_code=404)
        return self._answer(avatar_hash, f"{user_id}/{avatar_hash}")

    async def default_avatar(self, request: Request) -> Response:
        state = self.state
        state.count_request("GET /cdn/embed/avatars")
        if "authorization" in request.headers:
            state.count_cdn_authorization()
        index = str(request.path_params["filename"])
        if index not in {f"{n}.png" for n in range(6)}:
            return PlainTextResponse("Not found.", status_code=404)
        n = index.removesuffix(".png")
        return self._answer(f"embed/{n}", f"embed/{n}")
