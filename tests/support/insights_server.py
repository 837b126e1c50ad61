"""Helpers of the insights server tests: a local package server, UPNs, clients, polling."""

from __future__ import annotations

import contextlib
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cordvault.core.settings import Settings
from cordvault.web.app import create_app

UPN_ALPHABET = string.ascii_letters + string.digits + "-._"


def new_upn() -> str:
    """A fresh UPN shaped like Discord's (600 chars of [A-Za-z0-9-._])."""
    return "".join(secrets.choice(UPN_ALPHABET) for _ in range(600))


@dataclass
class PackageServer:
    """A local HTTP server playing Discord's CDN (and misbehaving on purpose)."""

    base: str
    files: dict[str, Path] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    trickle_delay: float = 0.5
    slowed: set[str] = field(default_factory=set)

    def link(self, name: str, upn: str, route: str = "pkg") -> str:
        return f"{self.base}/{route}/{name}?upn={upn}"


def package_handler(server: PackageServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr
            pass

        def _route(self, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            server.hits.append(f"{self.command} {path}")
            if path.startswith("/pkg/"):
                file = server.files.get(path[len("/pkg/") :])
                if file is None:
                    return self._send(404, b"gone", "text/plain", head)
                size = file.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if not head:
                    with file.open("rb") as f:
                        while block := f.read(65536):
                            self.wfile.write(block)
                return None
            if path.startswith("/slow-once/"):
                # First GET trickles (so a test can kill the job mid-download), later ones fly.
                name = path[len("/slow-once/") :]
                file = server.files[name]
                first = not head and name not in server.slowed
                if first:
                    server.slowed.add(name)
                size = file.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if head:
                    return None
                try:
                    with file.open("rb") as f:
                        while block := f.read(2048 if first else 65536):
                            self.wfile.write(block)
                            if first:
                                self.wfile.flush()
                                time.sleep(0.05)
                except OSError:
                    pass
                return None
            if path == "/expired":
                return self._send(403, b"AccessDenied", "application/xml", head)
            if path == "/html":
                return self._send(200, b"<html></html>", "text/html", head)
            if path == "/loop":
                return self._redirect("/loop")
            if path.startswith("/hop/"):
                return self._redirect(self.path[len("/hop") :])
            if path == "/to-private":
                return self._redirect("http://10.1.2.3/pkg/x.zip", absolute=True)
            if path == "/to-loopback-other-port":
                port = int(self.headers.get("x-other-port", "9"))
                return self._redirect(f"http://127.0.0.2:{port}/pkg/x.zip", absolute=True)
            if path == "/slow":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                if head:
                    return None
                try:
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(server.trickle_delay)
                except OSError:
                    pass
                return None
            if path == "/huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()  # no length: the cap must trip while streaming
                if head:
                    return None
                try:
                    for _ in range(10_000):
                        self.wfile.write(b"\0" * 65536)
                except OSError:
                    pass
                self.close_connection = True
                return None
            return self._send(404, b"no", "text/plain", head)

        def _send(self, code: int, body: bytes, ctype: str, head: bool) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _redirect(self, location: str, absolute: bool = False) -> None:
            self.send_response(302)
            self.send_header("Location", location if absolute else server.base + location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

    return Handler


@contextlib.contextmanager
def running_package_server() -> Iterator[PackageServer]:
    """A threaded HTTP server on 127.0.0.1 (port 0) serving packages and faults."""
    state = PackageServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), package_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def insights_client(settings: Settings) -> TestClient:
    """A TestClient over an app with only the insights domain (enter it to run the queue)."""
    return TestClient(create_app(settings, domains=("cordvault.web.insights",)))


def bearer(upn: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {upn}"}


def wait_status(
    client: TestClient,
    package_id: str,
    upn: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60.0,
    interval: float = 0.2,
) -> dict[str, Any]:
    """Poll ``/status`` like the client until ``until(body)``; fail on timeout."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/process/{package_id}/status", headers=bearer(upn))
        assert response.status_code == 200, response.text
        body = response.json()
        if until(body):
            return body
        time.sleep(interval)
    raise AssertionError(f"status never reached the condition; last: {body}")


def done(body: dict[str, Any]) -> bool:
    return bool(body["isDataAvailable"] or body["isErrored"])


def dump_tables(url: str) -> str:
    """Every row of every table, as text (bytes as latin-1), for secret scans."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    out: list[str] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    out.append(repr(tuple(_cell(v) for v in row)))
    finally:
        engine.dispose()
    return "\n".join(out)


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    return value
