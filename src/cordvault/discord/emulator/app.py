"""The emulated Discord: REST API v10 under ``/api/v10``, the CDN under ``/cdn`` and ``/media``
(attachments; user and default avatars in ``avatars.py``).

Behaviour follows ``discord-api.md``: bot auth, per-route/per-channel and global rate limits
with all headers, multipart uploads with Discord's limits and codes, signed expiring attachment
URLs with HTTP Range, message paging, deletes and bulk deletes (14-day rule), webhooks, user and
guild lookups, and the IP ban (past ``ban_threshold`` invalid answers in ``ban_window``
seconds every API request gets 429 ``error code: 1015``). ``/_emulator/*`` is a small control
API (stats, faults, clock) for runs outside Python; in-process tests use
:class:`~cordvault.discord.emulator.state.EmulatorState` directly. Errors use Discord's shape
``{"message", "code"}``.

Size: over 450 lines on purpose. It is a test tool that mirrors one external API surface;
the handlers share the rate-limit, auth and error helpers, and one file keeps "what our
emulated Discord answers" readable side by side with ``discord-api.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import shutil
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordvault.discord.emulator.avatars import Avatars
from cordvault.discord.emulator.faults import FaultRule
from cordvault.discord.emulator.state import EmulatorState, StoredAttachment, StoredMessage
from cordvault.discord.emulator.uploads import Refusal, read_upload
from cordvault.discord.snowflake import is_snowflake

API_PREFIX = "/api/v10"
ABORT_EXTENSION = "cordvault.abort"
FOURTEEN_DAYS = 14 * 24 * 3600.0

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]
Auth = Literal["bot", "webhook", "none"]


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"message": message, "code": code}, status_code=status, headers=headers)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class _Api:
    """Wraps each handler with auth, rate limiting, counting and Discord-shaped errors."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route(self, method: str, template: str, handler: Handler, auth: Auth = "bot") -> Route:
        label = f"{method} {template}"

        async def endpoint(request: Request) -> Response:
            state = self.state
            state.count_request(label)
            params = {k: str(v) for k, v in request.path_params.items()}
            headers: dict[str, str] = {}
            banned = state.ban_remaining()
            if banned > 0:
                # What Discord's Cloudflare layer answers a banned IP: no JSON, just 1015.
                retry = {"Retry-After": str(math.ceil(banned))}
                return PlainTextResponse("error code: 1015", status_code=429, headers=retry)
            try:
                who, use_global = self._authenticate(request, auth, params)
                major = params.get("channel_id") or params.get("guild_id") or ""
                major = major or params.get("webhook_id", "")
                verdict = state.limiter.check(who, label, major, use_global=use_global)
                if not verdict.allowed:
                    state.count_rate_limited(label, verdict.is_global)
                    body = {
                        "message": "You are being rate limited.",
                        "retry_after": verdict.retry_after,
                        "global": verdict.is_global,
                    }
                    return JSONResponse(body, status_code=429, headers=verdict.headers)
                headers = verdict.headers
                response = await handler(request, params)
            except Refusal as refusal:
                if refusal.status in (401, 403):
                    state.count_invalid()
                response = _error(refusal.status, refusal.code, refusal.message)
            response.headers.update(headers)
            return response

        return Route(API_PREFIX + template, endpoint, methods=[method])

    def _authenticate(
        self, request: Request, auth: Auth, params: dict[str, str]
    ) -> tuple[str, bool]:
        """Who is calling (for rate-limit keys) and whether the global limit applies."""
        if auth == "webhook":
            hook = self.state.config.webhooks.get(params["webhook_id"])
            if hook is None:
                raise Refusal(404, 10015, "Unknown Webhook")
            if not hmac.compare_digest(hook.token, params["webhook_token"]):
                raise Refusal(401, 50027, "Invalid Webhook Token")
            return f"webhook:{hook.id}", False
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bot" or token not in self.state.config.tokens:
            raise Refusal(401, 0, "401: Unauthorized")
        return hashlib.sha256(token.encode()).hexdigest()[:16], True


class _Handlers:
    """The endpoints. Each raises :class:`Refusal` for Discord's error answers."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # -- lookups -----------------------------------------------------------------------------

    async def get_user(self, _request: Request, params: dict[str, str]) -> Response:
        user = self.state.config.users.get(params["user_id"])
        if user is None:
            if not is_snowflake(params["user_id"]):
                raise Refusal(400, 50035, "Invalid Form Body")
            raise Refusal(404, 10013, "Unknown User")
        return JSONResponse({"id": params["user_id"], **user})

    async def get_guild(self, request: Request, params: dict[str, str]) -> Response:
        guild = self.state.config.guilds.get(params["guild_id"])
        if guild is None:
            raise Refusal(404, 10004, "Unknown Guild")
        if not guild.accessible:
            raise Refusal(403, 50001, "Missing Access")
        body: dict[str, Any] = {"id": guild.id, "name": guild.name, "icon": guild.icon}
        if request.query_params.get("with_counts", "").lower() == "true":
            body["approximate_member_count"] = guild.member_count
            body["approximate_presence_count"] = guild.presence_count
        return JSONResponse(body)

    async def get_channel(self, _request: Request, params: dict[str, str]) -> Response:
        channel = self._channel(params["channel_id"])
        body = {"id": channel.id, "type": 0, "guild_id": channel.guild_id, "name": channel.name}
        return JSONResponse(body)

    # -- messages ----------------------------------------------------------------------------

    async def create_message(self, request: Request, params: dict[str, str]) -> Response:
        channel = self._channel(params["channel_id"])
        message = await self._create(request, channel.id, self.state.bot_author(), None)
        return JSONResponse(self.state.message_json(message, _base_url(request)))

    async def execute_webhook(self, request: Request, params: dict[str, str]) -> Response:
        hook = self.state.config.webhooks[params["webhook_id"]]
        author = {"id": hook.id, "username": hook.name, "avatar": None, "bot": True}
        message = await self._create(request, hook.channel_id, author, hook.id)
        if request.query_params.get("wait", "").lower() != "true":
            return Response(status_code=204)
        return JSONResponse(self.state.message_json(message, _base_url(request)))

    async def get_message(self, request: Request, params: dict[str, str]) -> Response:
        self._channel(params["channel_id"])
        message = self._message(params["channel_id"], params["message_id"])
        return JSONResponse(self.state.message_json(message, _base_url(request)))

    async def get_messages(self, request: Request, params: dict[str, str]) -> Response:
        self._channel(params["channel_id"])
        query = request.query_params
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        anchors = [k for k in ("around", "before", "after") if query.get(k)]
        if not 1 <= limit <= 100 or len(anchors) > 1:
            raise Refusal(400, 50035, "Invalid Form Body")
        if anchors and not is_snowflake(query[anchors[0]]):
            raise Refusal(400, 50035, "Invalid Form Body")
        newest_first = self.state.channel_messages(params["channel_id"])
        chosen = _page(newest_first, anchors[0] if anchors else None, query, limit)
        base = _base_url(request)
        return JSONResponse([self.state.message_json(m, base) for m in chosen])

    async def delete_message(self, _request: Request, params: dict[str, str]) -> Response:
        channel = self._channel(params["channel_id"])
        message = self._message(channel.id, params["message_id"])
        own = message.author.get("id") == self.state.config.bot_user_id
        if not own and not channel.manage_messages:
            raise Refusal(403, 50013, "Missing Permissions")
        self.state.remove_message(message.id)
        return Response(status_code=204)

    async def bulk_delete(self, request: Request, params: dict[str, str]) -> Response:
        channel = self._channel(params["channel_id"])
        try:
            body = await request.json()
        except ValueError as exc:
            raise Refusal(400, 50109, "The request body contains invalid JSON.") from exc
        ids = body.get("messages") if isinstance(body, dict) else None
        valid = isinstance(ids, list) and all(isinstance(i, str) and is_snowflake(i) for i in ids)
        if not valid or not 2 <= len(ids or []) <= 100 or len(set(ids or [])) != len(ids or []):
            raise Refusal(400, 50035, "Invalid Form Body")
        if not channel.manage_messages:
            raise Refusal(403, 50013, "Missing Permissions")
        now = self.state.now()
        with self.state.lock:
            found = [
                m
                for i in ids or []
                if (m := self.state.messages.get(i)) is not None and m.channel_id == channel.id
            ]
        if any(now - m.created > FOURTEEN_DAYS for m in found):
            raise Refusal(
                400, 50034, "You can only bulk delete messages that are under 14 days old."
            )
        for message in found:
            self.state.remove_message(message.id)
        return Response(status_code=204)

    async def get_webhook_message(self, request: Request, params: dict[str, str]) -> Response:
        message = self._webhook_message(params)
        return JSONResponse(self.state.message_json(message, _base_url(request)))

    async def delete_webhook_message(self, _request: Request, params: dict[str, str]) -> Response:
        self.state.remove_message(self._webhook_message(params).id)
        return Response(status_code=204)

    # -- helpers -----------------------------------------------------------------------------

    def _channel(self, channel_id: str) -> Any:
        channel = self.state.config.channels.get(channel_id)
        if channel is None:
            raise Refusal(404, 10003, "Unknown Channel")
        if not channel.accessible:
            raise Refusal(403, 50001, "Missing Access")
        return channel

    def _message(self, channel_id: str, message_id: str) -> StoredMessage:
        with self.state.lock:
            message = self.state.messages.get(message_id)
        if message is None or message.channel_id != channel_id:
            raise Refusal(404, 10008, "Unknown Message")
        return message

    def _webhook_message(self, params: dict[str, str]) -> StoredMessage:
        with self.state.lock:
            message = self.state.messages.get(params["message_id"])
        if message is None or message.webhook_id != params["webhook_id"]:
            raise Refusal(404, 10008, "Unknown Message")
        return message

    async def _create(
        self, request: Request, channel_id: str, author: dict[str, Any], webhook_id: str | None
    ) -> StoredMessage:
        state = self.state
        upload = await read_upload(request, state.config)
        try:
            payload = upload.payload
            content = payload.get("content") or ""
            nonce = payload.get("nonce")
            if not isinstance(content, str) or len(content) > state.config.max_content_length:
                raise Refusal(400, 50035, "Invalid Form Body")
            if nonce is not None and (not isinstance(nonce, str | int) or len(str(nonce)) > 25):
                raise Refusal(400, 50035, "Invalid Form Body")
            if not content and not upload.files:
                raise Refusal(400, 50006, "Cannot send an empty message")
            nonce = None if nonce is None else str(nonce)
            if nonce is not None and payload.get("enforce_nonce") and webhook_id is None:
                earlier = state.find_nonce(channel_id, str(author["id"]), nonce)
                if earlier is not None:
                    return earlier  # Discord answers a repeated nonce with the first message
            attachments = []
            for filename, content_type, part in upload.files:
                attachment_id = state.new_id()
                path = state.attachment_path(channel_id, attachment_id)
                await part.seek(0)
                with path.open("wb") as out:
                    shutil.copyfileobj(part.file, out, 1024 * 1024)
                size = path.stat().st_size
                attachments.append(
                    StoredAttachment(attachment_id, filename, size, content_type, path)
                )
            message = StoredMessage(
                id=state.new_id(),
                channel_id=channel_id,
                content=content,
                author=author,
                created=state.now(),
                webhook_id=webhook_id,
                nonce=nonce,
                attachments=attachments,
            )
            state.add_message(message)
            return message
        finally:
            await upload.close()


def _page(
    newest_first: list[StoredMessage], anchor: str | None, query: Any, limit: int
) -> list[StoredMessage]:
    """Discord's paging: before/after/around an id, newest first."""
    if anchor is None:
        return newest_first[:limit]
    pivot = int(query[anchor])
    if anchor == "before":
        return [m for m in newest_first if int(m.id) < pivot][:limit]
    if anchor == "after":
        oldest_first = [m for m in reversed(newest_first) if int(m.id) > pivot][:limit]
        return list(reversed(oldest_first))
    older = [m for m in newest_first if int(m.id) < pivot][: limit // 2]
    newer_or_same = [m for m in reversed(newest_first) if int(m.id) >= pivot][: limit - len(older)]
    return list(reversed(newer_or_same)) + older


class _CdnFile(FileResponse):
    """Starlette's FileResponse reading 1 MiB at a time instead of 64 KiB.

    Each read is a hop to a worker thread and each piece one ASGI send; at 64 KiB that costs
    the emulator ~1.5-2 s of CPU per GiB served, more than the drives it is meant to measure
    (benchmarks share the machine's cores with it). 1 MiB reads cost ~0.45 s per GiB; larger
    ones were slower again in the same measurement.
    """

    chunk_size = 1024 * 1024


class _Cdn:
    """Signed, expiring attachment URLs with HTTP Range (Starlette's FileResponse)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def serve(self, request: Request) -> Response:
        state = self.state
        channel_id = str(request.path_params["channel_id"])
        attachment_id = str(request.path_params["attachment_id"])
        filename = str(request.path_params["filename"])
        state.count_request(f"{request.method} /cdn/attachments")
        state.note_cdn_range(request.headers.get("range"))
        if "authorization" in request.headers:
            state.count_cdn_authorization()
        query = request.query_params
        try:
            expires, issued = int(query["ex"], 16), int(query["is"], 16)
            mac = query["hm"]
        except (KeyError, ValueError):
            return PlainTextResponse("This content is no longer available.", status_code=403)
        expected = state.sign(channel_id, attachment_id, filename, expires, issued)
        if not hmac.compare_digest(expected, mac):
            return PlainTextResponse("Invalid signature.", status_code=403)
        if state.now() > expires:
            return PlainTextResponse("This content is no longer available.", status_code=404)
        with state.lock:
            found = state.attachments.get(attachment_id)
        if found is None or found[0] != channel_id or found[1].filename != filename:
            return PlainTextResponse("Not found.", status_code=404)
        attachment = found[1]
        if not attachment.path.exists():
            return PlainTextResponse("Not found.", status_code=404)
        return _CdnFile(attachment.path, media_type=attachment.content_type)


class _Control:
    """``/_emulator``: stats, fault rules and the clock over HTTP."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def stats(self, _request: Request) -> Response:
        s = self.state.stats()
        return JSONResponse(
            {
                "requests": dict(s.requests),
                "rate_limited": dict(s.rate_limited),
                "global_rate_limited": s.global_rate_limited,
                "invalid_requests": s.invalid_requests,
                "faults": dict(s.faults),
                "messages": len(self.state.messages),
            }
        )

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.faults.clear()
            return Response(status_code=204)
        try:
            body = await request.json()
            rule = self.state.faults.add(FaultRule(**body))
        except (ValueError, TypeError) as exc:
            return _error(400, 50035, f"bad fault rule: {type(exc).__name__}")
        return JSONResponse({"pattern": rule.pattern, "kind": rule.kind}, status_code=201)

    async def clock(self, request: Request) -> Response:
        try:
            body = await request.json()
            self.state.advance(float(body["advance"]))
        except (ValueError, TypeError, KeyError):
            return _error(400, 50035, 'expected {"advance": seconds}')
        return JSONResponse({"now": self.state.now()})


class FaultInjector:
    """ASGI middleware applying :class:`~cordvault.discord.emulator.faults.FaultRule` s."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        path = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path
        rule = (
            None if path.startswith("/_emulator") else self.state.faults.pick(scope["method"], path)
        )
        if rule is None:
            await self.app(scope, receive, send)
            return
        self.state.count_fault(rule.kind)
        if rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind in ("500", "502", "503"):
            await _drain(receive)
            status = int(rule.kind)
            await _error(status, 0, f"{status}: injected fault")(scope, receive, send)
        elif rule.kind == "429":
            await _drain(receive)
            body = {
                "message": "You are being rate limited.",
                "retry_after": rule.retry_after,
                "global": rule.is_global,
            }
            headers = {
                "Retry-After": str(max(1, round(rule.retry_after))),
                "X-RateLimit-Scope": "global" if rule.is_global else "user",
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
        elif rule.kind == "reset":
            await _abort(scope, receive, send)
        else:  # drop_response: apply the request, lose the answer
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)
            await _abort(scope, receive, send)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _abort(scope: Scope, receive: Receive, send: Send) -> None:
    """Close the connection without an answer (RST), as a dropped connection looks.

    Needs the server's abort hook (see ``server.py``); elsewhere (e.g. TestClient) it falls back
    to a 502 so the fault is still visible.
    """
    hook = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if hook is None:
        await _error(502, 0, "502: connection reset (emulated)")(scope, receive, send)
        return
    hook["abort"]()
    # Let the server notice the disconnect so it neither logs nor answers on a dead socket.
    for _ in range(3):
        await asyncio.sleep(0)


def create_app(state: EmulatorState) -> ASGIApp:
    """The emulator as an ASGI app over ``state``."""
    api, h = _Api(state), _Handlers(state)
    cdn, control, avatars = _Cdn(state), _Control(state), Avatars(state)
    c, m = "/channels/{channel_id}", "/messages/{message_id}"
    w = "/webhooks/{webhook_id}/{webhook_token}"
    routes = [
        api.route("GET", "/users/{user_id}", h.get_user),
        api.route("GET", "/guilds/{guild_id}", h.get_guild),
        api.route("GET", c, h.get_channel),
        api.route("POST", c + "/messages", h.create_message),
        api.route("GET", c + "/messages", h.get_messages),
        api.route("POST", c + "/messages/bulk-delete", h.bulk_delete),
        api.route("GET", c + m, h.get_message),
        api.route("DELETE", c + m, h.delete_message),
        api.route("POST", w, h.execute_webhook, auth="webhook"),
        api.route("GET", w + m, h.get_webhook_message, auth="webhook"),
        api.route("DELETE", w + m, h.delete_webhook_message, auth="webhook"),
        Route(
            "/cdn/attachments/{channel_id}/{attachment_id}/{filename}",
            cdn.serve,
            methods=["GET", "HEAD"],
        ),
        Route(
            "/media/attachments/{channel_id}/{attachment_id}/{filename}",
            cdn.serve,
            methods=["GET", "HEAD"],
        ),
        Route("/cdn/avatars/{user_id}/{filename}", avatars.user_avatar, methods=["GET"]),
        Route("/cdn/embed/avatars/{filename}", avatars.default_avatar, methods=["GET"]),
        Route("/_emulator/stats", control.stats, methods=["GET"]),
        Route("/_emulator/faults", control.faults, methods=["POST", "DELETE"]),
        Route("/_emulator/clock", control.clock, methods=["POST"]),
    ]

    async def http_error(_request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(status, 0, f"{status}: {'Not Found' if status == 404 else 'Error'}")

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return FaultInjector(app, state)
