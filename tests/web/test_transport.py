"""The served HTTP protocol (``web/transport.py``): real uvicorn servers, real sockets.

The option is read back from the *server's* end of a live connection, with plain
``httptools`` as the control, and large bodies must arrive intact whether the client reads
fast or stalls (the mark only changes when the loop is told the socket is writable again).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from typing import Any

import httpx
import pytest
import uvicorn
from tests.support.live_server import serving_server
from uvicorn.importer import import_from_string

from cordvault.cli.server import uvicorn_options
from cordvault.core.settings import Settings
from cordvault.web.transport import SEND_LOWAT, HttpProtocol, tune_connection

PIECE = 8 * 1024 * 1024
BODY_PIECES = 4  # 32 MiB


def _pattern(index: int) -> bytes:
    """Piece ``index`` of the body: distinct per piece, so a reordering changes the hash."""
    return hashlib.sha256(str(index).encode()).digest() * (PIECE // 32)


EXPECTED = hashlib.sha256(b"".join(_pattern(i) for i in range(BODY_PIECES))).hexdigest()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Sends the body the way a drive download does: whole 8 MiB pieces as memoryviews
    (served with ``lifespan="off"``: HTTP scopes only)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(PIECE * BODY_PIECES).encode())],
        }
    )
    for index in range(BODY_PIECES):
        body = memoryview(bytearray(_pattern(index)))
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _server_side_lowat(server: uvicorn.Server) -> int:
    (protocol,) = server.server_state.connections
    sock = protocol.transport.get_extra_info("socket")  # type: ignore[attr-defined]
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT))


def test_serve_runs_our_protocol() -> None:
    """``cordvault serve`` (and every test server built from its options) uses it."""
    options = uvicorn_options(Settings())
    assert import_from_string(options["http"]) is HttpProtocol
    config = uvicorn.Config(_app, **options)
    config.load()
    assert config.http_protocol_class is HttpProtocol


@pytest.mark.parametrize(("http", "expected"), [(HttpProtocol, SEND_LOWAT), ("httptools", 0)])
def test_connection_gets_the_mark(http: Any, expected: int) -> None:
    """Our protocol sets the mark on the server's socket; uvicorn's own leaves it unset (0)."""
    with (
        serving_server(_app, http=http, lifespan="off") as (url, server),
        httpx.Client() as client,
        client.stream("GET", url) as response,
    ):
        assert _server_side_lowat(server) == expected
        digest = hashlib.sha256()
        for part in response.iter_bytes():
            digest.update(part)
    assert digest.hexdigest() == EXPECTED


def test_large_body_intact_with_a_stalling_reader() -> None:
    """A client that stops reading for a while (the queue fills, the loop waits for
    writability below the mark) still gets every byte, in order."""
    with (
        serving_server(_app, http=HttpProtocol, lifespan="off") as (url, _),
        httpx.Client(timeout=30) as client,
        client.stream("GET", url) as response,
    ):
        digest = hashlib.sha256()
        received = 0
        for part in response.iter_raw(64 * 1024):
            digest.update(part)
            received += len(part)
            if received % (4 * 1024 * 1024) < 64 * 1024:
                time.sleep(0.05)
    assert received == PIECE * BODY_PIECES
    assert digest.hexdigest() == EXPECTED


def test_only_tcp_sockets_are_tuned() -> None:
    """A Unix socket (a proxy in front) and a transport without a socket are left as they are."""
    assert tune_connection(None) is False

    async def check() -> tuple[bool, bool, int]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair(socket.AF_UNIX)
        unix_transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, left)
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            client = socket.create_connection(listener.getsockname())
            accepted, _ = listener.accept()
            tcp_transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, accepted)
            tuned_tcp = tune_connection(tcp_transport)
            mark = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT)
            tuned_unix = tune_connection(unix_transport)
            tcp_transport.close()
            unix_transport.close()
            client.close()
            right.close()
        finally:
            listener.close()
        return tuned_unix, tuned_tcp, mark

    tuned_unix, tuned_tcp, mark = asyncio.run(check())
    assert (tuned_unix, tuned_tcp, mark) == (False, True, SEND_LOWAT)
