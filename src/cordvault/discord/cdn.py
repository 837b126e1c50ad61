"""Attachment downloads from the CDN: keep-alive ``http.client`` connections, each answer read
straight into one preallocated buffer.

Why not httpx, which the API calls use: its h11 parser copies every received byte three or four
times (socket read, parser buffer, extracted event, our join). For 8 MiB attachments from the
emulator that cost 1.24-1.31 s of CPU per GiB, against 0.42 s/GiB for ``readinto`` a buffer
sized from ``Content-Length`` (``docs/benchmarks.md``, issue 15): the CDN read was the largest
cost of a drive download. Only GETs of signed attachment URLs go this way; they carry no token.

Contract of :meth:`CdnConnections.get`: one attempt, no retries (the client's retry loop owns
those). Transport failures raise :class:`CdnTransportError`; any HTTP status is an answer. For a
200 or 206 the answer's ``body`` is exactly bytes ``[start, end)`` of the attachment (shorter
only if the server sent less); for a 206 the ``Content-Range`` start is checked. Other statuses
carry at most :data:`MAX_ERROR_BODY` bytes of their body. A connection is reused only after its
answer was read to the end and the server did not ask to close it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass

from cordvault.discord.errors import DiscordUnavailable

MAX_BODY = 512 * 1024 * 1024
"""The largest answer a buffer is allocated for (Discord's largest upload is 500 MiB): a
``Content-Length`` above it is refused rather than trusted."""
MAX_ERROR_BODY = 64 * 1024
MAX_IDLE_PER_HOST = 16
REUSE_MIN = 1024 * 1024
"""Answers at least this large are read into reused buffers (:class:`ReceiveBuffers`)."""
_SKIP_PIECE = 256 * 1024
RECEIVE_LOW_WATER = 512 * 1024
"""While most of a body is still to come, a read waits until this many bytes are queued
(``SO_RCVLOWAT``) instead of waking for every segment the sender pushes: on loopback the
emulator writes 64 KiB at a time, and each wake-up (poll, context switch, a recv and the
Python frames around it) cost the reading thread more than the copy of those bytes."""


class CdnTransportError(Exception):
    """The request failed below HTTP (connect, reset, timeout, malformed answer); it may or may
    not have reached the server. GETs are safe to retry."""


@dataclass(frozen=True)
class CdnAnswer:
    """One answer: its status, headers (lower-case names) and body (see the module docstring)."""

    status: int
    headers: dict[str, str]
    body: bytearray


_Key = tuple[str, str, int]


class ReceiveBuffers:
    """Answer buffers of at least :data:`REUSE_MIN` bytes, reused once nobody holds them.

    ``bytearray(n)`` zero-fills its memory before the socket overwrites it: for 8 MiB chunks
    that memset was ~5 % of a download's server CPU (perf, docs/benchmarks.md issue 15). A
    returned body may be held by its caller for as long as it likes: a buffer is handed out
    again only when this pool holds the only reference to it (CPython's reference count;
    buffer exports and views reference it too), so nobody ever sees a body change. At most
    ``keep`` buffers are kept; a free one unused for ``idle_seconds`` is dropped at the next
    take that does not reuse it, and :meth:`CdnConnections.close` drops them all.
    """

    _ONLY_OURS = 3  # the entry tuple, the local ``buf`` and getrefcount's own argument

    def __init__(self, keep: int = 4, idle_seconds: float = 10.0) -> None:
        self._keep = keep
        self._idle = idle_seconds
        self._kept: list[tuple[bytearray, list[float]]] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of exactly ``size`` bytes that nobody else refers to (stale content)."""
        if size < REUSE_MIN:
            return bytearray(size)
        now = time.monotonic()
        with self._lock:
            fresh: list[tuple[bytearray, list[float]]] = []
            found: bytearray | None = None
            for entry in self._kept:
                buf, used = entry
                free = sys.getrefcount(buf) == self._ONLY_OURS
                if found is None and free and len(buf) == size:
                    found = buf
                    used[0] = now
                if not free or now - used[0] < self._idle:
                    fresh.append(entry)
                del buf, used
            self._kept = fresh
            if found is not None:
                return found
            made = bytearray(size)
            if len(self._kept) < self._keep:
                self._kept.append((made, [now]))
            return made

    def clear(self) -> None:
        with self._lock:
            self._kept = []


class CdnConnections:
    """A small thread-safe pool of keep-alive connections per (scheme, host, port)."""

    def __init__(self, timeout: float, user_agent: str) -> None:
        self._timeout = timeout
        self._user_agent = user_agent
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context()
        self._closed = False
        self.buffers = ReceiveBuffers()

    def get(self, url: str, start: int, end: int | None) -> CdnAnswer:
        """GET bytes ``[start, end)`` of ``url`` (``end=None``: to the end); one attempt."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise CdnTransportError("bad port in attachment URL") from exc
        if scheme not in ("http", "https") or not parts.hostname:
            raise CdnTransportError("attachment URL must be http(s)")
        key: _Key = (scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": self._user_agent, "Accept-Encoding": "identity"}
        if start > 0 or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        conn, reused = self._take(key)
        try:
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection: the request never reached
                # it, so a fresh connection may try again at once.
                conn.close()
                conn, reused = self._new(key), False
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
            answer, reusable = _read_answer(response, start, end, conn.sock, self.buffers)
        except (OSError, http.client.HTTPException) as exc:
            # Timeouts are TimeoutError (an OSError) raised by the socket's own timeout.
            conn.close()
            raise CdnTransportError(type(exc).__name__) from exc
        except BaseException:
            conn.close()
            raise
        if reusable and not response.will_close:
            self._give_back(key, conn)
        else:
            conn.close()
        return answer

    def close(self) -> None:
        """Close every idle connection; later calls open fresh ones and do not keep them."""
        self.buffers.clear()
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _take(self, key: _Key) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            conns = self._idle.get(key)
            if conns:
                return conns.pop(), True
        return self._new(key), False

    def _new(self, key: _Key) -> http.client.HTTPConnection:
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self._timeout)

    def _give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if not self._closed and len(conns) < MAX_IDLE_PER_HOST:
                conns.append(conn)
                return
        conn.close()


_CONTENT_RANGE_START = "bytes "


def _read_answer(
    response: http.client.HTTPResponse,
    start: int,
    end: int | None,
    sock: socket.socket | None = None,
    buffers: ReceiveBuffers | None = None,
) -> tuple[CdnAnswer, bool]:
    """The answer and whether the connection was left at a clean message boundary. ``sock``
    (the connection's socket) lets a large body be read with fewer wake-ups (:func:`_fill`)."""
    headers = {name.lower(): value for name, value in response.getheaders()}
    status = response.status
    if status not in (200, 206):
        body = bytearray(response.read(MAX_ERROR_BODY))
        return CdnAnswer(status, headers, body), response.isclosed()
    skip = start
    if status == 206:
        given = headers.get("content-range", "")
        first = given[len(_CONTENT_RANGE_START) :].split("-", 1)[0]
        if not given.startswith(_CONTENT_RANGE_START) or not first.isdigit() or int(first) != start:
            raise DiscordUnavailable("GET cdn attachment: CDN answered the wrong range")
        skip = 0
    length = response.length  # None: no Content-Length (chunked or until close)
    want = None if end is None else end - start
    if length is not None:
        available = max(0, length - skip)
        want = available if want is None else min(want, available)
    if want is not None and want > MAX_BODY:
        raise DiscordUnavailable("GET cdn attachment: answer larger than any attachment")
    _discard(response, skip)
    if want is None:
        body = _read_unsized(response)
    else:
        body = bytearray(want) if buffers is None else buffers.take(want)
        view = memoryview(body)
        got = _fill(response, view, sock)
        if got < want:
            del view
            body = body[:got]  # the caller sees a short answer and treats it as such
    return CdnAnswer(status, headers, body), response.isclosed()


def _fill(response: http.client.HTTPResponse, view: memoryview, sock: socket.socket | None) -> int:
    """Read the body into ``view``; the number of bytes read (short only at EOF).

    A large body is read in two phases: all but its last ``2 * RECEIVE_LOW_WATER`` bytes with
    the socket's receive low-water mark at :data:`RECEIVE_LOW_WATER`, then the rest at the
    usual mark of 1. The first phase can always be satisfied, so it only saves wake-ups:
    whenever it waits, more than the mark is still to arrive on the socket (the buffered
    reader has handed out what it held; a TLS layer holds at most one partial 16 KiB record,
    far less than the second mark of margin). The mark is back at 1 before the connection is
    reused (headers and short answers must not wait for it).
    """
    want = len(view)
    got = 0
    lowered = False
    first = want - 2 * RECEIVE_LOW_WATER
    try:
        if sock is not None and first > RECEIVE_LOW_WATER:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, RECEIVE_LOW_WATER)
            lowered = True
            got = _read_into(response, view, 0, first)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
            lowered = False
            if got < first:
                return got
        return _read_into(response, view, got, want)
    finally:
        if lowered:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)  # type: ignore[union-attr]


def _read_into(response: http.client.HTTPResponse, view: memoryview, got: int, stop: int) -> int:
    """Read into ``view[got:stop]`` until full or EOF; the new ``got``."""
    while got < stop:
        n = response.readinto(view[got:stop])
        if not n:
            break
        got += n
    return got


def _discard(response: http.client.HTTPResponse, count: int) -> None:
    """Read and drop ``count`` bytes (a 200 answer to a ranged request starts at 0)."""
    scratch = memoryview(bytearray(min(count, _SKIP_PIECE)))
    while count > 0:
        n = response.readinto(scratch[: min(count, len(scratch))])
        if not n:
            return
        count -= n


def _read_unsized(response: http.client.HTTPResponse) -> bytearray:
    """A body without ``Content-Length``, bounded by :data:`MAX_BODY`."""
    body = bytearray()
    while True:
        piece = response.read1(_SKIP_PIECE)
        if not piece:
            return body
        body += piece
        if len(body) > MAX_BODY:
            raise DiscordUnavailable("GET cdn attachment: answer larger than any attachment")


__all__ = ["MAX_BODY", "CdnAnswer", "CdnConnections", "CdnTransportError"]
