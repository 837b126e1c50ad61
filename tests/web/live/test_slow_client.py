"""The bounded send queue: a client that stops reading is dropped (4409), memory stays flat.

A raw TCP client (tiny receive buffer) signs in by the session cookie during the handshake and
then never reads; events are published through the app's own bus, each acknowledged by a
second client that does read. Once the kernel buffers between them are full, the server's
sender blocks, the slow socket's queue of ``LIVE_SEND_QUEUE`` entries fills and the server
closes it with 4409, while the reading client keeps its socket. The silent client then reads
again (a client that paused): the close frame behind the unread events reaches it.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from tests.web.live.conftest import Live

from cordvault.drive.events import EVERYONE, Event, encode_batch

EVENT_BYTES = 256 * 1024
"""Each event's size: above glibc's mmap threshold, so a freed event returns to the system and
the process size measures what is still held."""
MAX_EVENTS = 400  # 100 MiB: far more than the kernel buffers and the queue together


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _silent_client(base: str, token: str) -> socket.socket:
    """A WebSocket handshake by hand, signed in by the cookie; the caller never reads again."""
    url = urlsplit(base)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    sock.connect((url.hostname, url.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/ws HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {base}\r\nCookie: cv_session={token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: not one byte of the frames after it
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _close_code(sock: socket.socket) -> int | None:
    """Read the server's frames to the close frame; its code (None: closed without one)."""
    sock.settimeout(10)
    buf = b""

    def need(n: int) -> bool:
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return False
            buf += chunk
        return True

    while need(2):
        opcode, size = buf[0] & 0x0F, buf[1] & 0x7F
        head = 2
        if size == 126:
            if not need(4):
                return None
            size, head = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if not need(10):
                return None
            size, head = struct.unpack("!Q", buf[2:10])[0], 10
        if not need(head + size):
            return None
        payload, buf = buf[head : head + size], buf[head + size :]
        if opcode == 0x8:
            return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else None
    return None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_client_that_stops_reading_is_dropped_with_4409(make_live: Callable[..., Live]) -> None:
    live = make_live(live_send_queue=8, live_heartbeat_seconds=3600, live_max_packet_bytes=1 << 20)
    alice = live.token("alice")
    reader = live.socket(alice)
    registry = live.app.state.live
    (reading,) = registry.sockets()
    silent = _silent_client(live.base, alice)
    deadline = time.monotonic() + 5
    while registry.connections < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    bus = live.app.state.services.events

    (slow,) = (c for c in registry.sockets() if c is not reading)

    before = _rss()
    published = 0
    while slow.close_code != 4409 and published < MAX_EVENTS:
        published += 1
        bus.publish(encode_batch([Event("resync", {"reason": "x" * EVENT_BYTES}, EVERYONE)]))
        got = reader.recv(10)  # the reading client keeps pace: only the silent one falls behind
        assert got["id"] == "s2c:resync"
    grown = _rss() - before

    assert slow.close_code == 4409, f"still connected after {published} events"
    # What the server held for the silent client: kernel buffers plus at most the queue, not
    # all that was published (the published events are freed once the reader got them).
    assert grown < 32 * 1024 * 1024, (grown, published)
    # The close frame waits behind the unread events: a client reading again within a second
    # of the drop gets it (one that never reads is cut without it).
    assert _close_code(silent) == 4409
    assert registry.connections == 1
    assert reader.request("c2s:ping")["id"] == "s2c:pong"
    silent.close()
