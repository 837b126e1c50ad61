"""Pure ASGI middlewares applied to every route: the request body cap and ``nosniff``.

:class:`BodyLimit`: every route except the streaming upload routes (registered by the domains in
``allow_streaming``) takes a small body (JSON, forms). A declared
``Content-Length`` over ``MAX_JSON_BODY_BYTES`` is refused at once, without reading the body; a
chunked body is read here, counted as it arrives and refused as soon as it passes the cap. Either
way the answer is 413 ``BODY_TOO_LARGE`` in the app's JSON error shape, with
``Connection: close`` (the rest of the body is never read), before any route or parser sees the
body. A body within the cap is handed on unchanged, so memory per request stays bounded by the
cap.

:class:`NoSniff`: ``X-Content-Type-Options: nosniff`` on every answer, so a browser never
guesses a type from the bytes (file responses add a sandboxing CSP too, see ``web/ranges.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordvault.core.errors import CordvaultError, ErrorCode

StreamingRoute = tuple[str, re.Pattern[str]]
"""``(METHOD, compiled full-match path pattern)`` of a route whose body is streamed."""


def streaming_route(method: str, path_pattern: str) -> StreamingRoute:
    """A streaming route: ``method`` and a regex the whole path must match."""
    return method.upper(), re.compile(path_pattern)


def allow_streaming(app: Starlette, *routes: StreamingRoute) -> None:
    """Exempt ``routes`` of ``app`` (built by ``web.app.create_app``) from the body cap."""
    streaming: list[StreamingRoute] = app.state.streaming_routes
    streaming.extend(routes)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` except on ``streaming`` routes (413)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, streaming: Sequence[StreamingRoute]):
        self.app = app
        self.max_bytes = max_bytes
        # Read at each request: domains register their routes after the middleware is added.
        self.streaming = streaming

    def _streams(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope.get("method", "").upper()
        return any(m == method and p.fullmatch(path) for m, p in self.streaming)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._streams(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                messages.clear()
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = CordvaultError(
            ErrorCode.BODY_TOO_LARGE,
            "the request body is larger than MAX_JSON_BODY_BYTES",
            details={"limit": self.max_bytes},
        )
        response = JSONResponse(
            error.to_dict(),
            status_code=error.http_status,
            headers={"connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class DefaultHeaders:
    """Add ``headers`` to every HTTP answer that does not set them itself (compared by name,
    case-insensitively): an answer's own header always wins, so a route can, say, send its
    own Content-Security-Policy."""

    def __init__(self, app: ASGIApp, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.app = app
        self.headers = tuple((name.lower(), value) for name, value in headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_defaults(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_defaults)


NOSNIFF: tuple[tuple[bytes, bytes], ...] = ((b"x-content-type-options", b"nosniff"),)
"""What the API adds to every answer (:class:`DefaultHeaders`); pages add more."""
