"""The synchronous Discord REST client (httpx), paced and retried.

Every API call goes through :class:`~cordvault.discord.ratelimit.RateLimiter` (wait before a
429 would come) and the retry policy of :mod:`cordvault.discord.retry`. Failures come out
classified (:mod:`cordvault.discord.errors`); nothing else escapes except ``CordvaultError``
``INVALID_INPUT`` for ids that are not snowflakes (refused before any request).

Secrets: the bot token, webhook URLs and signed CDN URLs are credentials. Logs and error
messages name route templates only (``POST /channels/{channel_id}/messages``); the token is
registered with the log redactor as a second line of defence; CDN requests never carry the
``Authorization`` header. The client is thread-safe (one ``httpx.Client`` connection pool).

Size: one class over 450 lines on purpose. Every endpoint method is a few lines around the same
``_request``/``_send`` core (pacing, retries, classification); splitting the endpoints across
modules would scatter the one place where "every call is paced and retried" can be checked.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import httpx

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import register_secret
from cordvault.core.metrics import DISCORD_RATE_LIMITED, DISCORD_REQUESTS, DISCORD_RETRIES
from cordvault.discord.cdn import CdnConnections, CdnTransportError
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
    DiscordTooManyAttachments,
    DiscordUnavailable,
    DiscordUrlExpired,
)
from cordvault.discord.models import Guild, Message, User
from cordvault.discord.ratelimit import RateLimiter, parse_429
from cordvault.discord.retry import (
    MAYBE_SENT,
    NOT_SENT,
    RETRYABLE_STATUS,
    Backoff,
    retry_after_header,
)
from cordvault.discord.routes import Route, require_snowflake

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# How a request may be repeated (see cordvault.discord.retry).
RetryMode = Literal["idempotent", "once"]

_BULK_MAX = 100
SEND_PIECE = 256 * 1024
"""Largest piece of a file the multipart body hands to the transport at once. httpcore sends a
piece with ``socket.send`` and copies what the kernel did not take (``buffer[n:]``): a whole
8 MiB chunk was copied several times over, up to 8 MiB more per posting lane; 256 KiB pieces
are copied once each (by h11) and are mostly taken whole. Measured, 1 GiB drive upload with 9
chunks in flight: server peak RSS 250-259 -> 233 MiB (docs/benchmarks.md, issue 15)."""
_USER_AGENT = f"DiscordBot (https://github.com/cordvault, {cordvault.__version__})"
_CDN = "GET cdn attachment"  # the metrics/log label of attachment downloads (no URL: signed)
_CODE_TOO_OLD_TO_BULK_DELETE = 50034
_CODE_UNKNOWN_MESSAGE = 10008
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)")


@dataclass(frozen=True)
class ClientStats:
    """Counters since the client was built (a snapshot)."""

    requests: int = 0
    """HTTP requests sent (API and CDN, retries included)."""
    retries: int = 0
    """Requests repeated after a 429, 5xx or transport failure."""
    rate_limited: int = 0
    """429 answers received (the pacer's goal is to keep this at 0)."""
    invalid_requests: int = 0
    """API answers Discord counts towards its IP ban: 401, 403, 429 (except shared-scope)."""
    server_errors: int = 0
    """5xx answers received."""
    transport_errors: int = 0
    """Timeouts, refused/reset connections."""


class DiscordClient:
    """Discord REST API v10 for a bot token. See the module docstring for the contracts.

    ``pacer``: share one :class:`RateLimiter` between clients using the same token (the global
    limit is per token); by default each client has its own. ``backoff``: the retry delays.
    ``max_rate_limit_wait``: the longest a call waits for a rate limit before raising
    :class:`DiscordRateLimited` instead.
    """

    def __init__(
        self,
        api_base: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
        pacer: RateLimiter | None = None,
        backoff: Backoff | None = None,
        max_rate_limit_wait: float = 60.0,
    ) -> None:
        if not token:
            raise CordvaultError(ErrorCode.MISSING_SETTINGS, "a Discord bot token is required")
        register_secret(token)
        self._api_base = api_base.rstrip("/")
        self._auth = f"Bot {token}"
        self._max_retries = max(0, max_retries)
        self._pacer = pacer if pacer is not None else RateLimiter()
        self._backoff = backoff if backoff is not None else Backoff()
        self._max_wait = max_rate_limit_wait
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": _USER_AGENT},
        )
        self._cdn = CdnConnections(timeout, _USER_AGENT)
        self._stats = ClientStats()
        # httpx logs every full URL at INFO, and webhook and signed CDN URLs are credentials.
        # configure_logging() already holds these loggers at WARNING; make sure of it here too.
        for name in ("httpx", "httpcore"):
            noisy = logging.getLogger(name)
            if noisy.getEffectiveLevel() < logging.WARNING:
                noisy.setLevel(logging.WARNING)
        self._stats_lock = threading.Lock()

    # -- lookups -----------------------------------------------------------------------------

    def get_user(self, user_id: str) -> User:
        """``GET /users/{id}``. Unknown user: :class:`DiscordNotFound` (code 10013)."""
        data = self._call(Route("GET", "/users/{user_id}", {"user_id": user_id}))
        return _parse(User.from_api, data)

    def get_guild(self, guild_id: str, with_counts: bool = True) -> Guild:
        """``GET /guilds/{id}?with_counts=true``. Unknown: 10004; no access: 403 50001."""
        route = Route("GET", "/guilds/{guild_id}", {"guild_id": guild_id})
        query = {"with_counts": "true"} if with_counts else None
        return _parse(Guild.from_api, self._call(route, query=query))

    def get_channel(self, channel_id: str) -> dict[str, Any]:
        """``GET /channels/{id}`` as Discord's JSON object."""
        data = self._call(Route("GET", "/channels/{channel_id}", {"channel_id": channel_id}))
        if not isinstance(data, dict):
            raise DiscordUnavailable("GET /channels/{channel_id}: malformed answer")
        return data

    # -- messages ----------------------------------------------------------------------------

    def create_message(
        self,
        channel_id: str,
        files: Sequence[tuple[str, bytes]],
        content: str = "",
        *,
        nonce: str | None = None,
    ) -> Message:
        """Post a message with attachments (multipart ``payload_json`` + ``files[n]``).

        Sent with a ``nonce`` and ``enforce_nonce: true`` (random unless given; at most 25
        characters) so retries after a timeout return the first attempt's message instead of
        creating a duplicate. If retries run out after an attempt that may have been applied,
        :class:`DiscordOutcomeUnknown` is raised: calling again with the same ``nonce`` within a
        few minutes is safe (Discord returns the existing message). Other errors:
        :class:`DiscordPayloadTooLarge` (413/40005), :class:`DiscordTooManyAttachments`
        (30015), :class:`DiscordForbidden`, :class:`DiscordNotFound` (10003 unknown channel),
        and the transient family.
        """
        nonce = nonce if nonce is not None else secrets.token_hex(12)
        if len(nonce) > 25:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "a message nonce has at most 25 characters"
            )
        route = Route("POST", "/channels/{channel_id}/messages", {"channel_id": channel_id})
        payload = {"content": content, "nonce": nonce, "enforce_nonce": True}
        data = self._call(route, multipart=(payload, files), mode="idempotent")
        return _parse(Message.from_api, data)

    def execute_webhook(
        self,
        webhook_id: str,
        webhook_token: str,
        files: Sequence[tuple[str, bytes]],
        content: str = "",
    ) -> Message:
        """``POST /webhooks/{id}/{token}?wait=true`` with attachments; returns the message.

        Not repeated once the request may have reached Discord (webhooks take no nonce): such a
        failure raises :class:`DiscordOutcomeUnknown` (see :mod:`cordvault.discord.retry`).
        """
        route = Route(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            {"webhook_id": webhook_id, "webhook_token": webhook_token},
        )
        data = self._call(
            route, query={"wait": "true"}, multipart=({"content": content}, files), mode="once"
        )
        return _parse(Message.from_api, data)

    def get_message(self, channel_id: str, message_id: str) -> Message:
        """``GET /channels/{c}/messages/{m}`` (fresh signed attachment URLs). Unknown: 10008."""
        route = Route(
            "GET",
            "/channels/{channel_id}/messages/{message_id}",
            {"channel_id": channel_id, "message_id": message_id},
        )
        return _parse(Message.from_api, self._call(route))

    def get_webhook_message(self, webhook_id: str, webhook_token: str, message_id: str) -> Message:
        """``GET /webhooks/{id}/{token}/messages/{m}``: a webhook's own message."""
        route = Route(
            "GET",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            {"webhook_id": webhook_id, "webhook_token": webhook_token, "message_id": message_id},
        )
        return _parse(Message.from_api, self._call(route))

    def get_messages(
        self,
        channel_id: str,
        *,
        around: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[Message]:
        """Up to ``limit`` (1..100) messages, newest first; at most one of around/before/after."""
        anchors = {k: v for k, v in (("around", around), ("before", before), ("after", after)) if v}
        if len(anchors) > 1 or not 1 <= limit <= _BULK_MAX:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "get_messages takes one anchor and a limit of 1..100"
            )
        for name, value in anchors.items():
            require_snowflake(name, value)
        route = Route("GET", "/channels/{channel_id}/messages", {"channel_id": channel_id})
        data = self._call(route, query={**anchors, "limit": str(limit)})
        if not isinstance(data, list):
            raise DiscordUnavailable("GET /channels/{channel_id}/messages: malformed answer")
        return [_parse(Message.from_api, item) for item in data]

    def delete_message(self, channel_id: str, message_id: str) -> None:
        """``DELETE /channels/{c}/messages/{m}``; an unknown message (10008) counts as deleted."""
        route = Route(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}",
            {"channel_id": channel_id, "message_id": message_id},
        )
        self._call_ignoring_unknown_message(route)

    def delete_webhook_message(self, webhook_id: str, webhook_token: str, message_id: str) -> None:
        """``DELETE /webhooks/{id}/{token}/messages/{m}``; unknown message counts as deleted."""
        route = Route(
            "DELETE",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            {"webhook_id": webhook_id, "webhook_token": webhook_token, "message_id": message_id},
        )
        self._call_ignoring_unknown_message(route)

    def bulk_delete(self, channel_id: str, message_ids: Sequence[str]) -> None:
        """Delete many messages: ``bulk-delete`` in groups of 2..100, single deletes otherwise.

        Discord refuses bulk deletion of messages older than 14 days (50034); such a group is
        deleted one by one instead. Unknown ids are ignored, like :meth:`delete_message`.
        """
        unique = list(dict.fromkeys(message_ids))
        route = Route(
            "POST", "/channels/{channel_id}/messages/bulk-delete", {"channel_id": channel_id}
        )
        for group in (unique[i : i + _BULK_MAX] for i in range(0, len(unique), _BULK_MAX)):
            for message_id in group:
                require_snowflake("message_id", message_id)
            if len(group) == 1:
                self.delete_message(channel_id, group[0])
                continue
            try:
                self._call(route, json_body={"messages": group})
            except DiscordBadRequest as exc:
                if exc.discord_code != _CODE_TOO_OLD_TO_BULK_DELETE:
                    raise
                for message_id in group:
                    self.delete_message(channel_id, message_id)

    # -- CDN ---------------------------------------------------------------------------------

    def fetch_attachment(self, url: str, start: int = 0, end: int | None = None) -> bytearray:
        """Bytes ``[start, end)`` of an attachment (``end=None``: to its end) via HTTP Range,
        in one fresh buffer (see :mod:`cordvault.discord.cdn`: not through httpx).

        Sent without the bot token. An expired or refused signed URL (403/404/410) raises
        :class:`DiscordUrlExpired`: fetch the message again for a fresh URL. A start past the
        end raises :class:`DiscordRangeNotSatisfiable`. 5xx and resets are retried.
        """
        if start < 0 or (end is not None and end < start):
            raise CordvaultError(ErrorCode.INVALID_INPUT, "invalid attachment range")
        try:
            scheme = httpx.URL(url).scheme
        except (httpx.InvalidURL, TypeError):
            scheme = ""
        if scheme not in ("http", "https"):
            # The URL itself is a credential: it is not echoed.
            raise CordvaultError(ErrorCode.INVALID_INPUT, "attachment URL must be http(s)")
        if end == start:
            return bytearray()
        attempt = 0
        while True:
            self._bump(requests=1)
            try:
                answer = self._cdn.get(url, start, end)
            except CdnTransportError as exc:
                self._bump(transport_errors=1)
                DISCORD_REQUESTS.labels(_CDN, "transport").inc()
                attempt = self._retry_or_raise(attempt, _CDN, exc, None)
                continue
            status = answer.status
            DISCORD_REQUESTS.labels(_CDN, str(status)).inc()
            if status in (200, 206):
                return answer.body
            if status in (403, 404, 410):
                raise DiscordUrlExpired(status)
            if status == 416:
                match = _UNSATISFIED_RANGE.fullmatch(answer.headers.get("content-range", ""))
                raise DiscordRangeNotSatisfiable(int(match.group(1)) if match else None)
            if status == 429 or status in RETRYABLE_STATUS or status >= 500:
                self._bump(server_errors=int(status >= 500), rate_limited=int(status == 429))
                if status == 429:
                    DISCORD_RATE_LIMITED.labels(_CDN).inc()
                attempt = self._retry_or_raise(
                    attempt,
                    _CDN,
                    None,
                    status,
                    retry_after_header(answer.headers),
                )
                continue
            raise DiscordBadRequest(status, None, f"GET cdn attachment: HTTP {status}")

    # -- housekeeping ------------------------------------------------------------------------

    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        with self._stats_lock:
            return self._stats

    @property
    def pacer(self) -> RateLimiter:
        """The rate limiter this client uses (share it with other clients of the same token)."""
        return self._pacer

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        self._cdn.close()

    def __enter__(self) -> DiscordClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the request loop --------------------------------------------------------------------

    def _call_ignoring_unknown_message(self, route: Route) -> None:
        try:
            self._call(route)
        except DiscordNotFound as exc:
            if exc.discord_code != _CODE_UNKNOWN_MESSAGE:
                raise

    def _call(
        self,
        route: Route,
        *,
        query: dict[str, str] | None = None,
        json_body: Any = None,
        multipart: tuple[dict[str, Any], Sequence[tuple[str, bytes]]] | None = None,
        mode: RetryMode = "idempotent",
    ) -> Any:
        """Send ``route`` until it succeeds, fails permanently or runs out of retries."""
        url = self._api_base + route.path
        headers = {} if route.is_webhook else {"Authorization": self._auth}
        body: MultipartBody | None = None
        if multipart is not None and multipart[1]:
            body = MultipartBody(*multipart)
            headers.update(body.headers)
        elif multipart is not None:
            json_body = multipart[0]  # no files: Discord takes the payload as JSON
        try:
            return self._send(route, url, headers, query, json_body, body, mode)
        finally:
            if body is not None:
                # The chunks are freed by reference counting as soon as the caller drops
                # them, although httpx keeps the request alive in a reference cycle.
                body.release()

    def _send(
        self,
        route: Route,
        url: str,
        headers: dict[str, str],
        query: dict[str, str] | None,
        json_body: Any,
        body: MultipartBody | None,
        mode: RetryMode,
    ) -> Any:
        """The retry loop of :meth:`_call` (``body``, when given, is sent by every attempt)."""
        attempt = 0
        maybe_applied = False  # a POST attempt may have reached Discord before failing
        while True:
            ticket = self._pacer.acquire(
                route, max_wait=self._max_wait, use_global=not route.is_webhook
            )
            status: int | None = None
            response: httpx.Response | None = None
            payload: Any = None
            failure: Exception | None = None
            started = time.monotonic()
            try:
                self._bump(requests=1)
                response = self._http.request(
                    route.method,
                    url,
                    params=query,
                    json=json_body,
                    content=body,
                    headers=headers,
                )
                status = response.status_code
                DISCORD_REQUESTS.labels(route.label, str(status)).inc()
                payload = _json(response)
            except NOT_SENT as exc:
                failure = exc
            except MAYBE_SENT as exc:
                failure = exc
                if mode == "once":
                    self._bump(transport_errors=1)
                    raise DiscordOutcomeUnknown(
                        f"{route.label}: {type(exc).__name__}; the request may have been applied"
                    ) from exc
            finally:
                self._pacer.release(
                    ticket, status, response.headers if response is not None else None, payload
                )
            creates = route.method == "POST"
            try:
                if failure is not None or response is None:
                    self._bump(transport_errors=1)
                    DISCORD_REQUESTS.labels(route.label, "transport").inc()
                    maybe_applied |= creates and not isinstance(failure, NOT_SENT)
                    attempt = self._retry_or_raise(attempt, route.label, failure, None)
                    continue
                log.debug("%s -> %d in %.3fs", route.label, status, time.monotonic() - started)
                if status is not None and 200 <= status < 300:
                    return payload
                maybe_applied |= creates and response.status_code >= 500
                attempt = self._handle_failure(route, response, payload, attempt, mode)
            except DiscordUnavailable as exc:
                if not maybe_applied or isinstance(exc, DiscordOutcomeUnknown):
                    raise
                # An earlier attempt may have been applied: say so (still a DiscordUnavailable).
                raise DiscordOutcomeUnknown(
                    f"{exc.message}; an earlier attempt may have been applied", status=exc.status
                ) from exc

    def _handle_failure(
        self, route: Route, response: httpx.Response, payload: Any, attempt: int, mode: RetryMode
    ) -> int:
        """Raise the classified error, or return the next attempt number after backing off."""
        status = response.status_code
        answer = parse_429(response.headers, payload) if status == 429 else None
        counts_invalid = status in (401, 403) or (answer is not None and answer.scope != "shared")
        self._bump(invalid_requests=int(counts_invalid), rate_limited=int(status == 429))
        if answer is not None:
            DISCORD_RATE_LIMITED.labels(route.label).inc()
            if attempt >= self._max_retries:
                raise DiscordRateLimited(
                    answer.retry_after, f"{route.label}: rate limited", is_global=answer.is_global
                )
            log.info("%s: 429 (retry after %.3fs), retrying", route.label, answer.retry_after)
            self._bump(retries=1)
            DISCORD_RETRIES.labels(route.label).inc()
            return attempt + 1  # the pacer now holds the next attempt back for retry_after
        if status >= 500:
            self._bump(server_errors=1)
            if mode == "once":
                raise DiscordOutcomeUnknown(
                    f"{route.label}: HTTP {status}; the request may have been applied",
                    status=status,
                )
            return self._retry_or_raise(
                attempt, route.label, None, status, retry_after_header(response.headers)
            )
        raise _classify(route, status, payload)

    def _retry_or_raise(
        self,
        attempt: int,
        label: str,
        failure: Exception | None,
        status: int | None,
        retry_after: float | None = None,
    ) -> int:
        """Sleep the backoff and return ``attempt + 1``, or raise when retries are spent."""
        reason = type(failure).__name__ if failure is not None else f"HTTP {status}"
        if attempt >= self._max_retries:
            raise DiscordUnavailable(
                f"{label}: {reason} after {attempt + 1} attempts", status=status
            ) from failure
        delay = self._backoff.delay(attempt, retry_after)
        log.info("%s: %s, retry %d in %.2fs", label, reason, attempt + 1, delay)
        self._bump(retries=1)
        DISCORD_RETRIES.labels(label).inc()
        time.sleep(delay)
        return attempt + 1

    def _bump(self, **counts: int) -> None:
        with self._stats_lock:
            current = self._stats
            self._stats = replace(
                current, **{name: getattr(current, name) + n for name, n in counts.items()}
            )


_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_FORM_ESCAPE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> str:
    """``name="value"`` as browsers (and httpx) quote form parameters."""
    return f'{name}="{_FORM_ESCAPE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)}"'


class MultipartBody(httpx.SyncByteStream):
    """A ``multipart/form-data`` body of ``payload_json`` and ``files[n]`` parts (Discord's
    message shape), over the caller's buffers: nothing is copied while it is built.

    Contract: iterating yields the body (again for each attempt of a retried request; pieces
    of a file are at most :data:`SEND_PIECE` bytes); ``headers`` are its ``Content-Type``
    (random boundary) and ``Content-Length``; :meth:`release` drops every reference to the
    files, after which the body yields nothing. Why it exists rather than httpx's ``files=``:
    httpx binds each response's stream to the response (``BoundSyncStream._response``), a
    reference cycle that keeps the request, and through httpx's multipart fields every file
    it carried, alive until the cyclic garbage collector runs, which counts allocations,
    not bytes. Posted 8 MiB chunks piled up between collections (a 1 GiB drive upload peaked
    ~105 MiB higher; docs/benchmarks.md, "Drive on Discord"). Releasing the body when the
    call is over leaves nothing chunk-sized in that cycle.
    """

    def __init__(self, payload: dict[str, Any], files: Sequence[tuple[str, bytes]]) -> None:
        boundary = secrets.token_hex(16)
        body = dict(payload)
        body["attachments"] = [{"id": i, "filename": name} for i, (name, _) in enumerate(files)]
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f"{_form_param('name', 'payload_json')}\r\n\r\n"
            + json.dumps(body, separators=(",", ":"))
        )
        pieces: list[bytes] = []
        for i, (name, content) in enumerate(files):
            head += (
                f"\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f"{_form_param('name', f'files[{i}]')}; {_form_param('filename', name)}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            pieces += [head.encode(), content]
            head = ""
        pieces.append(f"{head}\r\n--{boundary}--\r\n".encode())
        self._pieces = pieces
        self.headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(sum(len(piece) for piece in pieces)),
        }

    def __iter__(self) -> Iterator[bytes]:
        # By index, holding no piece between yields: a generator abandoned mid-body (a failed
        # send) must not keep a file alive after release().
        index = 0
        while index < len(self._pieces):
            if len(self._pieces[index]) > SEND_PIECE:
                view = memoryview(self._pieces[index])
                for at in range(0, len(view), SEND_PIECE):
                    yield bytes(view[at : at + SEND_PIECE])
                del view
            else:
                yield self._pieces[index]
            index += 1

    def release(self) -> None:
        """Drop the files (the body is empty from now on)."""
        self._pieces = []


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _parse(factory: Callable[[Any], _T], data: Any) -> _T:
    """Build a model; a malformed answer is Discord's fault, reported as unavailable."""
    try:
        return factory(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DiscordUnavailable("malformed answer from Discord") from exc


def _classify(route: Route, status: int, payload: Any) -> DiscordError:
    body = payload if isinstance(payload, dict) else {}
    code = body.get("code") if isinstance(body.get("code"), int) else None
    # Discord's own error text ("Unknown Message") carries no secrets; cap its length anyway.
    text = str(body.get("message") or f"HTTP {status}")[:200]
    message = f"{route.label}: {text}"
    if status == 401:
        return DiscordAuthError(message)
    if status == 403:
        return DiscordForbidden(code, message)
    if status == 404:
        return DiscordNotFound(code, message)
    if status == 413 or code == 40005:
        return DiscordPayloadTooLarge(message)
    if code == 30015:
        return DiscordTooManyAttachments(message)
    return DiscordBadRequest(status, code, message)
