"""HTTP Range requests (RFC 9110 section 14) for streamed content of known size.

:func:`ranged_response` is the one way the web layer serves file content. Given the
representation's size, validators and a ``open_range(start, end)`` callable yielding the
plaintext bytes ``[start, end)``, it answers:

- ``200`` with the whole content when there is no ``Range`` header, when the header is not valid
  ``bytes`` syntax (RFC 9110 says to ignore it then), when ``If-Range`` does not match the current
  ``ETag`` / ``Last-Modified`` (the client's partial copy is stale), for ``HEAD`` (range handling
  is only defined for ``GET``), or when the request asks for too many ranges;
- ``206`` with ``Content-Range`` for one satisfiable range (``bytes=0-0``, ``bytes=5-``, suffix
  ranges ``bytes=-N`` including ``N`` larger than the file);
- ``206 multipart/byteranges`` for several ranges; overlapping and adjacent ranges are
  coalesced first (which may leave a single range, then served as a plain ``206``);
- ``416`` with ``Content-Range: bytes */<size>`` and the JSON error shape when no range is
  satisfiable;
- ``304`` for a matching ``If-None-Match`` / ``If-Modified-Since`` on ``GET``/``HEAD``.

Content answers carry :data:`FILE_HEADERS` (``nosniff`` and a sandboxing CSP).

The body is streamed: the sync ``open_range`` iterator is advanced in the thread pool, one piece
at a time, so memory stays bounded by what the iterator holds and a slow client slows the
producer (backpressure). An iterator that is also an async iterator (``__aiter__`` /
``__anext__``, like the drive's ``ContentRange``) is consumed on the event loop instead, with no
thread hop per piece, and closed with ``aclose()``. The first piece is produced *before* the
status line is sent, so a failure reading the first bytes (missing chunk, integrity error) still
becomes a proper JSON error; a failure later aborts the connection (the ``Content-Length`` is
then not met, which every client detects) rather than sending wrong bytes. A client
disconnect stops the producer and closes the iterator.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Final

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.web.disposition import content_disposition, media_type_for

log = logging.getLogger(__name__)

MAX_RANGES: Final = 64
"""More ranges than this in one request (before coalescing) -> the header is ignored (200)."""

OpenRange = Callable[[int, int], Iterator[bytes | bytearray]]

FILE_HEADERS: Final[Mapping[str, str]] = {
    "content-security-policy": "default-src 'none'; sandbox",
    "x-content-type-options": "nosniff",
}
"""On every answer carrying user content (here, zip downloads, result blobs): the browser never
sniffs a type, and content opened in it (an uploaded HTML or SVG file) runs in a sandbox with
no script, no plugin, no same-origin access and no subresource loads - a stored file cannot act
on the API's origin."""

_BYTES_UNIT = re.compile(r"^\s*bytes\s*=(.*)$", re.IGNORECASE | re.DOTALL)
_INT_RANGE = re.compile(r"^([0-9]+)-([0-9]*)$")
_SUFFIX_RANGE = re.compile(r"^-([0-9]+)$")
# type/subtype with optional parameters, printable ASCII only: anything else (CR/LF, non-latin-1
# characters from an uploader's Content-Type) would corrupt the response head.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[\x20-\x7e]*)?$")


class RangeNotSatisfiable(CordvaultError):
    """No requested range overlaps the content (answered as 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(
            ErrorCode.RANGE_NOT_SATISFIABLE,
            "requested range not satisfiable",
            details={"size": size},
        )
        self.size = size


def parse_range_header(value: str, size: int) -> list[tuple[int, int]] | None:
    """The half-open byte ranges ``[start, end)`` a ``Range`` header asks of ``size`` bytes.

    Returns ``None`` when the header must be ignored (not the ``bytes`` unit, invalid syntax,
    ``last < first``, more than :data:`MAX_RANGES` ranges, or a suffix range of an empty
    representation): the caller then serves the whole content. Unsatisfiable ranges are dropped;
    if none remains, raises :class:`RangeNotSatisfiable`. The result is sorted and coalesced
    (overlapping or adjacent ranges merged), never empty.
    """
    unit = _BYTES_UNIT.match(value)
    if unit is None:
        return None
    # The list rule lets recipients ignore empty elements ("bytes=0-1,,5-6").
    specs = [part.strip() for part in unit.group(1).split(",")]
    specs = [part for part in specs if part]
    if not specs or len(specs) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    empty_selection = False
    for spec in specs:
        try:
            parsed = _parse_spec(spec, size)
        except ValueError:
            return None
        if parsed is None:
            continue
        if parsed[0] == parsed[1]:
            empty_selection = True
        else:
            ranges.append(parsed)
    if not ranges:
        # RFC 9110 14.1.3: for an empty representation only a non-empty suffix range is
        # satisfiable, yet it selects nothing; the full (empty) 200 answers it best.
        if empty_selection:
            return None
        raise RangeNotSatisfiable(size)
    return _coalesce(ranges)


def _parse_spec(spec: str, size: int) -> tuple[int, int] | None:
    """One range spec -> ``(start, end)``; ``None`` if unsatisfiable; ``ValueError`` if invalid.

    Only a non-empty suffix range of an empty representation gives an empty ``(0, 0)``.
    """
    match = _INT_RANGE.match(spec)
    if match is not None:
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else None
        if last is not None and last < first:
            raise ValueError("last-pos before first-pos")
        if first >= size:
            return None
        return first, size if last is None else min(last + 1, size)
    match = _SUFFIX_RANGE.match(spec)
    if match is not None:
        length = int(match.group(1))
        if length == 0:
            return None
        return max(size - length, 0), size
    raise ValueError("not a byte-range-spec")


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def quote_etag(etag: str) -> str:
    """``etag`` as an entity-tag: unchanged if already quoted (or weak), else ``"etag"``."""
    if etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


def _http_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _seconds(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def if_range_matches(value: str, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 13.1.5: does the ``If-Range`` validator still describe the content?

    An entity-tag matches by *strong* comparison (weak tags never match); a date matches only
    when it equals ``Last-Modified`` to the second. Anything unparseable does not match.
    """
    value = value.strip()
    if value.startswith('W/"'):
        return False
    if value.startswith('"'):
        return not etag.startswith("W/") and value == etag
    parsed = _parse_http_date(value)
    if parsed is None or last_modified is None:
        return False
    return int(parsed.timestamp()) == _seconds(last_modified)


def _none_match(value: str, etag: str) -> bool:
    """``If-None-Match`` by weak comparison: ``*`` or any listed tag equal to ours."""
    if value.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in value.split(","))


def ranged_response(
    request: Request,
    *,
    size: int,
    etag: str,
    last_modified: datetime | None,
    media_type: str,
    filename: str | None,
    inline: bool,
    open_range: OpenRange,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer ``request`` for content of ``size`` bytes, honouring Range / If-Range / HEAD.

    ``open_range(start, end)`` must yield exactly the bytes ``[start, end)``; it is only called
    for ``GET`` and only for the ranges being sent, each iterator is closed after use (a
    generator's ``finally`` runs), and a wrong byte count aborts the response. ``etag`` may be
    given bare (it is quoted). ``headers`` are added to every non-error answer (e.g.
    ``Cache-Control``). Never raises for any header value a client can send.
    """
    etag = quote_etag(etag)
    if not _MEDIA_TYPE.match(media_type):
        media_type = media_type_for(filename)
    base: dict[str, str] = {"accept-ranges": "bytes", "etag": etag, **FILE_HEADERS}
    if last_modified is not None:
        base["last-modified"] = _http_date(last_modified)
    if filename is not None or not inline:
        base["content-disposition"] = content_disposition(
            filename, inline=inline, media_type=media_type
        )
    if headers:
        base.update({k.lower(): v for k, v in headers.items()})

    method = request.method.upper()
    if method in ("GET", "HEAD") and _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=_validators(base))

    ranges: list[tuple[int, int]] | None = None
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if (
        method == "GET"
        and range_header is not None
        and (if_range is None or if_range_matches(if_range, etag, last_modified))
    ):
        try:
            ranges = parse_range_header(range_header, size)
        except RangeNotSatisfiable as exc:
            return JSONResponse(
                exc.to_dict(),
                status_code=416,
                headers={"content-range": f"bytes */{size}", **_validators(base)},
            )

    send_body = method != "HEAD"
    if ranges is None:
        return _StreamedBody(
            200, {**base, "content-type": media_type}, [(0, size)], open_range, send_body
        )
    if len(ranges) == 1:
        start, end = ranges[0]
        single = {
            **base,
            "content-type": media_type,
            "content-range": f"bytes {start}-{end - 1}/{size}",
        }
        return _StreamedBody(206, single, [(start, end)], open_range, send_body)
    boundary = secrets.token_hex(16)
    plan: list[bytes | tuple[int, int]] = []
    for start, end in ranges:
        plan.append(
            (
                f"--{boundary}\r\nContent-Type: {media_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            ).encode("latin-1")
        )
        plan.append((start, end))
        plan.append(b"\r\n")
    plan.append(f"--{boundary}--\r\n".encode("latin-1"))
    multi = {**base, "content-type": f"multipart/byteranges; boundary={boundary}"}
    return _StreamedBody(206, multi, plan, open_range, send_body)


def _validators(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in ("etag", "last-modified", "accept-ranges")}


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _none_match(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None and last_modified is not None:
        since = _parse_http_date(if_modified_since)
        return since is not None and _seconds(last_modified) <= int(since.timestamp())
    return False


_END = object()
_Piece = bytes | bytearray
_Pieces = AsyncGenerator[_Piece, None]


def _next_piece(iterator: Iterator[_Piece]) -> _Piece | object:
    return next(iterator, _END)


def _close(iterator: Iterator[_Piece]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class _StreamedBody(Response):
    """A response whose body is a plan of literal bytes and ranges read via ``open_range``."""

    def __init__(
        self,
        status_code: int,
        headers: dict[str, str],
        plan: list[bytes | tuple[int, int]] | list[tuple[int, int]],
        open_range: OpenRange,
        send_body: bool,
    ) -> None:
        self.status_code = status_code
        self.background = None
        self._plan: list[bytes | tuple[int, int]] = list(plan)
        self._open_range = open_range
        self._send_body = send_body
        length = sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in self._plan)
        self.init_headers({**headers, "content-length": str(length)})

    async def _pieces(self) -> _Pieces:
        for part in self._plan:
            if isinstance(part, bytes):
                yield part
                continue
            start, end = part
            if start == end:
                continue
            expected = end - start
            sent = 0
            pieces = await run_in_threadpool(self._open_range, start, end)
            try:
                while True:
                    # An async producer runs on the loop; a sync one is advanced in the thread
                    # pool one piece at a time.
                    if isinstance(pieces, AsyncIterator):
                        piece = await anext(pieces, _END)
                    else:
                        piece = await run_in_threadpool(_next_piece, pieces)
                    if not isinstance(piece, bytes | bytearray):
                        break
                    sent += len(piece)
                    if sent > expected:
                        raise CordvaultError(ErrorCode.INTEGRITY_ERROR, "content longer than known")
                    if piece:
                        yield piece
            finally:
                # Shielded: the producer's cleanup (read-ahead, open chunks) must run even when
                # this task is being cancelled (the client went away).
                with anyio.CancelScope(shield=True):
                    if isinstance(pieces, AsyncIterator):
                        aclose = getattr(pieces, "aclose", None)
                        if aclose is not None:
                            await aclose()
                    else:
                        await run_in_threadpool(_close, pieces)
            if sent != expected:
                raise CordvaultError(ErrorCode.INTEGRITY_ERROR, "content shorter than known")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._send_body:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})  # fmt: skip
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        pieces = self._pieces()
        try:
            # Produce the first bytes before committing to a status: a failure here still
            # reaches the app's error handler as a JSON error.
            first = await anext(pieces, _END)
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})  # fmt: skip
            spec = scope.get("asgi", {}).get("spec_version", "2.0")
            if tuple(int(x) for x in spec.split(".")) >= (2, 4):
                await self._stream(first, pieces, send)
            else:
                await self._stream_until_disconnect(first, pieces, send, receive)
        finally:
            # Closing runs the producers' cleanup (thread pools, open chunks) even when the
            # client went away and this task is being cancelled.
            with anyio.CancelScope(shield=True):
                await pieces.aclose()

    async def _stream(self, piece: _Piece | object, pieces: _Pieces, send: Send) -> None:
        # Pieces go to the server as they are (a reader's bytearray is never written again
        # once yielded): no copy into a bytes object on the way to the socket. A transport
        # takes a whole piece in one write and sends what the socket does not take at once as
        # it drains (the next send waits for that: backpressure).
        while isinstance(piece, bytes | bytearray):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            piece = await anext(pieces, _END)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream_until_disconnect(
        self,
        first: _Piece | object,
        pieces: _Pieces,
        send: Send,
        receive: Receive,
    ) -> None:
        """ASGI < 2.4 servers drop sends after a disconnect silently: watch ``receive``."""
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._stream(first, pieces, send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                while (await receive())["type"] != "http.disconnect":
                    pass
                log.debug("client disconnected during a download")
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
