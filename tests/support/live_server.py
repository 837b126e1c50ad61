"""A real uvicorn server in a thread of the test process, and a real WebSocket client.

``serving(app)`` binds an ephemeral port and runs the app (lifespan included) until the block
ends. :class:`Socket` wraps ``websockets``' synchronous client with packet helpers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


@contextlib.contextmanager
def serving(app: Any, **options: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:<free port>; yields ``http://127.0.0.1:<port>``. ``options``
    are uvicorn's (``log_level``, or ``uvicorn_options(settings)``: the server's own ones) and
    replace the defaults here."""
    with serving_server(app, **options) as (url, _server):
        yield url


@contextlib.contextmanager
def serving_server(app: Any, **options: Any) -> Iterator[tuple[str, uvicorn.Server]]:
    """:func:`serving` that also yields the ``uvicorn.Server`` (its live connections are in
    ``server.server_state.connections``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    defaults: dict[str, Any] = {"log_level": "warning", "ws": "auto", "lifespan": "on"}
    config = uvicorn.Config(app, **{**defaults, **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


class Socket:
    """One live connection; ``recv`` skips heartbeats unless asked for them."""

    def __init__(self, base: str, **kw: Any) -> None:
        self.ws: ClientConnection = connect(
            base.replace("http", "ws", 1) + "/api/ws", legacy=True, **kw
        )
        self.aside: list[dict[str, Any]] = []

    def send(self, packet_id: str, data: dict[str, Any] | None = None) -> str:
        packet_uuid = str(uuid.uuid4())
        self.ws.send(json.dumps({"id": packet_id, "uuid": packet_uuid, "data": data or {}}))
        return packet_uuid

    def recv(self, timeout: float = 5.0, *, heartbeats: bool = False) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            packet: dict[str, Any] = json.loads(
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            )
            if heartbeats or packet["id"] != "s2c:heartbeat":
                return packet

    def request(self, packet_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return its reply (events arriving first are kept aside)."""
        sent = self.send(packet_id, data)
        while True:
            packet = self.recv()
            if packet.get("reply_uuid") == sent:
                return packet
            self.aside.append(packet)

    def auth(self, token: str) -> dict[str, Any]:
        return self.request("c2s:auth", {"token": token})

    def events(self, timeout: float = 0.5) -> list[dict[str, Any]]:
        """Every packet pushed within ``timeout`` (plus those kept aside)."""
        out, self.aside = self.aside, []
        with contextlib.suppress(TimeoutError):
            while True:
                out.append(self.recv(timeout))
        return out

    def close_code(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes the socket; the close code it sent (None: none)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    def close(self) -> None:
        self.ws.close()
