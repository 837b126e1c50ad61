"""Live events and drive requests over one WebSocket: ``GET /api/ws``.

``install(app, services)`` adds the route and a :class:`~.registry.Registry` of this
process's sockets, subscribed to the composition root's event bus (``services.events``; the
bus listener runs in ``Services.running``). The protocol (packet ids, data, replies, errors,
close codes, an example session) is ``docs/live-protocol.md``.

A socket's life: a handshake carrying the ``cv_session`` cookie is refused (HTTP 403) unless
its ``Origin`` is this server's (:func:`~.auth.same_origin`), then authenticated by the cookie
and greeted with ``s2c:auth-ok`` at once; without the cookie the first packet must be
``c2s:auth`` with a bearer token within ``LIVE_AUTH_TIMEOUT_SECONDS`` (never a token in the
URL), answered ``s2c:auth-ok``; then :class:`~.connection.Connection` serves requests and
pushes events until either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio
from fastapi import FastAPI
from starlette.websockets import WebSocket, WebSocketDisconnect

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.runtime import Services
from cordvault.web.live import protocol
from cordvault.web.live.auth import SocketIdentity, authenticate, same_origin
from cordvault.web.live.connection import Connection
from cordvault.web.live.handlers import HANDLERS
from cordvault.web.live.insights import InsightsFeed
from cordvault.web.live.registry import Registry
from cordvault.web.session_cookie import SESSION_COOKIE

PUSHED = (
    "s2c:file-modify",
    "s2c:folder-modify",
    "s2c:upload-progress",
    "s2c:upload-finish-info",
    "s2c:thumbnail-ready",
    "s2c:resync",
    "s2c:heartbeat",
    "s2c:insights-status",
)
"""Packets the server sends without being asked."""
REQUESTS = ("c2s:auth", "c2s:ping", "c2s:insights-subscribe", *HANDLERS)
"""Packets a client may send."""
REPLIES = (
    "s2c:auth-ok",
    "s2c:pong",
    "s2c:list",
    "s2c:file",
    "s2c:thumbnail",
    "s2c:insights-status",
    "generic:boolean",
)
"""Packets the server sends in reply (``reply_uuid`` set)."""


def install(app: FastAPI, services: Services) -> None:
    registry = Registry(InsightsFeed(services.status_engine), services.settings.live_flush_seconds)
    services.events.subscribe(registry.on_message)
    app.state.live = registry

    async def live_socket(websocket: WebSocket) -> None:
        await serve_socket(services, registry, websocket)

    app.add_api_websocket_route("/api/ws", live_socket)


async def _refuse(websocket: WebSocket, exc: CordvaultError, code: int, reply: str | None) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(protocol.error_packet(exc, reply))
        await asyncio.wait_for(websocket.close(code, exc.message[:120]), timeout=1.0)


async def _first_packet_auth(
    services: Services, websocket: WebSocket
) -> tuple[SocketIdentity, str, str | None] | None:
    """Identity, token and packet uuid from a ``c2s:auth`` first packet; None once refused."""
    settings = services.settings
    try:
        first = await asyncio.wait_for(
            websocket.receive_text(), timeout=settings.live_auth_timeout_seconds
        )
    except TimeoutError:
        err = CordvaultError(ErrorCode.UNAUTHORIZED, "authentication timed out")
        await _refuse(websocket, err, protocol.CLOSE_TIMEOUT, None)
        return None
    except (WebSocketDisconnect, RuntimeError, KeyError):
        return None  # gone, or a binary first frame: nothing to answer
    if len(first.encode("utf-8")) > settings.live_max_packet_bytes:
        err = CordvaultError(ErrorCode.PACKET_TOO_LARGE, "packet too large")
        await _refuse(websocket, err, protocol.CLOSE_TOO_LARGE, None)
        return None
    try:
        packet = protocol.parse(first)
        if packet.id != "c2s:auth":
            raise CordvaultError(ErrorCode.UNAUTHORIZED, "the first packet must be c2s:auth")
        token = packet.data.get("token")
        identity = await anyio.to_thread.run_sync(
            authenticate, services.drive, token if isinstance(token, str) else None
        )
    except CordvaultError as exc:
        await _refuse(websocket, exc, protocol.CLOSE_UNAUTHORIZED, protocol.reply_uuid_of(first))
        return None
    assert isinstance(token, str)
    return identity, token, packet.uuid


async def serve_socket(services: Services, registry: Registry, websocket: WebSocket) -> None:
    drive = services.drive
    settings = services.settings
    cookie = websocket.cookies.get(SESSION_COOKIE) or None
    if cookie is not None:
        secure = websocket.url.scheme == "wss"
        headers = websocket.headers
        if not same_origin(headers.get("origin"), headers.get("host"), secure, settings):
            # Closing before accepting answers the handshake with HTTP 403: a page of another
            # origin never gets a socket that the browser's cookie signed in.
            await websocket.close(code=protocol.CLOSE_UNAUTHORIZED)
            return
    await websocket.accept()
    if cookie is not None:
        try:
            identity = await anyio.to_thread.run_sync(authenticate, drive, cookie)
        except CordvaultError as exc:
            await _refuse(websocket, exc, protocol.CLOSE_UNAUTHORIZED, None)
            return
        token, reply_to = cookie, None
    else:
        authenticated = await _first_packet_auth(services, websocket)
        if authenticated is None:
            return
        identity, token, reply_to = authenticated
    batch = websocket.query_params.get("batch") == "1"
    conn = Connection(websocket, drive, identity, token, registry.feed, batch=batch)
    actor = identity.actor
    conn.push(
        protocol.encode(
            "s2c:auth-ok",
            {
                "user": {"id": actor.id, "name": actor.name, "is_admin": actor.is_admin},
                "heartbeat_seconds": settings.live_heartbeat_seconds,
                "idle_timeout_seconds": settings.live_idle_timeout_seconds,
                "max_packet_bytes": settings.live_max_packet_bytes,
                "batch": batch,
            },
            reply_to,
        )
    )
    registry.add(conn)
    try:
        await conn.run()
    finally:
        registry.remove(conn)
