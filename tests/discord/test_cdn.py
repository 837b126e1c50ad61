"""Attachment downloads (``discord/cdn.py``): faults through the emulator (5xx, resets, slow
answers, stale keep-alive connections) and lying servers (a tiny scripted HTTP server: wrong
``Content-Range``, huge ``Content-Length``, short bodies, no length)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.discord.support import CHANNEL, make_client

from cordvault.discord import DiscordClient, DiscordUnavailable
from cordvault.discord.cdn import MAX_BODY, REUSE_MIN, CdnConnections, CdnTransportError
from cordvault.discord.emulator import EmulatorHandle, FaultRule


def _posted(client: DiscordClient, data: bytes) -> str:
    return client.create_message(CHANNEL, [("c.bin", data)]).attachments[0].url


@pytest.mark.parametrize("kind", ["502", "503", "reset"])
def test_cdn_faults_are_retried(client: DiscordClient, emulator: EmulatorHandle, kind: str) -> None:
    data = os.urandom(300_000)
    url = _posted(client, data)
    emulator.add_fault(FaultRule("GET /cdn/*", kind, times=2))  # type: ignore[arg-type]
    before = client.stats()
    assert client.fetch_attachment(url, 10, 200_010) == data[10:200_010]
    after = client.stats()
    assert after.retries - before.retries == 2
    assert after.requests - before.requests == 3


def test_a_cdn_that_keeps_failing_ends_in_unavailable(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    url = _posted(client, b"x" * 1000)
    emulator.add_fault(FaultRule("GET /cdn/*", "502"))
    with pytest.raises(DiscordUnavailable):
        client.fetch_attachment(url)


def test_a_slow_cdn_times_out_and_is_retried(emulator: EmulatorHandle) -> None:
    with make_client(emulator, timeout=0.3) as client:
        url = _posted(client, b"slow bytes")
        emulator.add_fault(FaultRule("GET /cdn/*", "slow", times=1, delay=1.0))
        before = client.stats().transport_errors
        assert client.fetch_attachment(url) == b"slow bytes"
        assert client.stats().transport_errors == before + 1


def test_connections_are_kept_alive_and_a_stale_one_is_replaced_at_once(
    client: DiscordClient,
) -> None:
    data = os.urandom(50_000)
    url = _posted(client, data)
    for _ in range(5):
        assert client.fetch_attachment(url) == data
    pool = client._cdn
    idle = [conn for conns in pool._idle.values() for conn in conns]
    assert len(idle) == 1  # five sequential GETs, one connection
    # The server side goes away while the connection idles (as a CDN's keep-alive timeout
    # does): the next GET opens a fresh connection without a retry or a backoff.
    sock = idle[0].sock
    assert sock is not None
    sock.shutdown(socket.SHUT_RDWR)
    before = client.stats()
    assert client.fetch_attachment(url, 5, 10) == data[5:10]
    after = client.stats()
    assert (after.retries, after.transport_errors) == (before.retries, before.transport_errors)


# -- a scripted server that lies ---------------------------------------------------------------

Script = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def liar() -> Iterator[tuple[str, dict[str, Script]]]:
    scripts: dict[str, Script] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            scripts[self.path.split("?")[0]](self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", scripts
    finally:
        server.shutdown()
        server.server_close()


def _answer(status: int, headers: dict[str, str], body: bytes = b"") -> Script:
    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(body)
        handler.wfile.flush()

    return script


def test_a_wrong_content_range_is_refused(liar: tuple[str, dict[str, Script]]) -> None:
    base, scripts = liar
    scripts["/a"] = _answer(
        206, {"Content-Range": "bytes 0-9/100", "Content-Length": "10"}, b"0123456789"
    )
    pool = CdnConnections(2.0, "test")
    with pytest.raises(DiscordUnavailable, match="wrong range"):
        pool.get(base + "/a", 50, 60)


def test_a_huge_content_length_is_not_allocated(liar: tuple[str, dict[str, Script]]) -> None:
    base, scripts = liar
    scripts["/big"] = _answer(200, {"Content-Length": str(MAX_BODY + 1)}, b"x" * 10)
    pool = CdnConnections(2.0, "test")
    with pytest.raises(DiscordUnavailable, match="larger than any attachment"):
        pool.get(base + "/big", 0, None)


def test_a_short_body_is_answered_short_and_a_200_is_sliced(
    liar: tuple[str, dict[str, Script]],
) -> None:
    base, scripts = liar

    def short(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"s" * 400)
        handler.wfile.flush()
        handler.close_connection = True

    scripts["/short"] = short
    body = bytes(range(256)) * 4
    scripts["/whole"] = _answer(200, {"Content-Length": str(len(body))}, body)  # ignores Range
    pool = CdnConnections(2.0, "test")
    assert pool.get(base + "/short", 0, None).body == b"s" * 400
    assert pool.get(base + "/whole", 100, 300).body == body[100:300]
    assert pool.get(base + "/whole", 1000, None).body == body[1000:]


def test_a_body_without_length_is_read_to_the_end(liar: tuple[str, dict[str, Script]]) -> None:
    base, scripts = liar

    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for piece in (b"hello ", b"chunked ", b"world"):
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    scripts["/c"] = chunked
    pool = CdnConnections(2.0, "test")
    assert pool.get(base + "/c", 0, None).body == b"hello chunked world"
    assert pool.get(base + "/c", 6, 13).body == b"chunked"


def test_nothing_listening_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CdnTransportError):
        CdnConnections(1.0, "test").get(f"http://127.0.0.1:{port}/x", 0, None)


def test_a_large_body_is_read_with_a_low_water_mark_then_the_mark_is_reset(
    liar: tuple[str, dict[str, Script]],
) -> None:
    """Large bodies are read with SO_RCVLOWAT raised (fewer wake-ups); trickled in small
    pieces they still arrive whole, the kept-alive connection goes back to a mark of 1, and a
    short answer on it is read at once (not after the socket's timeout)."""
    base, scripts = liar
    body = os.urandom(3 * 1024 * 1024 + 123)

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for offset in range(0, len(body), 64 * 1024):
            handler.wfile.write(body[offset : offset + 64 * 1024])
            handler.wfile.flush()
            if offset % (1024 * 1024) == 0:
                time.sleep(0.05)

    scripts["/large"] = trickle
    scripts["/small"] = _answer(200, {"Content-Length": "5"}, b"small")
    pool = CdnConnections(5.0, "test")
    assert pool.get(base + "/large", 0, None).body == body
    idle = [conn for conns in pool._idle.values() for conn in conns]
    assert len(idle) == 1
    sock = idle[0].sock
    assert sock is not None
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
    started = time.monotonic()
    assert pool.get(base + "/small", 0, None).body == b"small"
    assert time.monotonic() - started < 1.0
    assert pool.get(base + "/large", 1000, len(body) - 7).body == body[1000:-7]


def test_a_large_body_cut_short_is_answered_short_at_once(
    liar: tuple[str, dict[str, Script]],
) -> None:
    base, scripts = liar

    def cut(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(4 * 1024 * 1024))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b"c" * (2 * 1024 * 1024 + 100))  # inside the low-water phase
        handler.wfile.flush()
        handler.close_connection = True

    scripts["/cut"] = cut
    pool = CdnConnections(5.0, "test")
    started = time.monotonic()
    assert pool.get(base + "/cut", 0, None).body == b"c" * (2 * 1024 * 1024 + 100)
    assert time.monotonic() - started < 2.0  # the close ends the wait, not the timeout


def test_large_answers_reuse_buffers_only_once_nobody_holds_them(
    liar: tuple[str, dict[str, Script]],
) -> None:
    base, scripts = liar
    first, second = os.urandom(REUSE_MIN + 10), os.urandom(REUSE_MIN + 10)
    scripts["/1"] = _answer(200, {"Content-Length": str(len(first))}, first)
    scripts["/2"] = _answer(200, {"Content-Length": str(len(second))}, second)
    pool = CdnConnections(5.0, "test")
    held = pool.get(base + "/1", 0, None).body
    view = memoryview(held)[5:]  # a caller may keep the body or a view of it
    other = pool.get(base + "/2", 0, None).body
    assert other is not held
    assert bytes(held) == first  # never rewritten while held
    assert view.tobytes() == first[5:]
    view.release()
    del held
    again = pool.get(base + "/2", 0, None).body
    assert again == second
    assert id(again) in {id(b) for b, _used in pool.buffers._kept}  # a kept buffer, reused
    small = pool.get(base + "/2", 0, 100).body  # small answers are plain fresh buffers
    assert small == second[:100]
    pool.close()
    assert pool.buffers._kept == []
