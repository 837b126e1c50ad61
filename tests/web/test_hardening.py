"""Hardening of a real server process (``run_server``, as ``cordvault serve``): request body
caps enforced while reading, ``nosniff`` everywhere, a bounded stop with stuck threads."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import psutil
import pytest

SCRIPT = Path(__file__).parents[1] / "support" / "serve_app.py"
CAP = 1024 * 1024  # MAX_JSON_BODY_BYTES default
HUGE = 128 * 1024 * 1024
GRACE = 1


@dataclass
class Served:
    base: str
    port: int
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, cwd: Path, *extra: str) -> Served:
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    for name in ("DATABASE_URL", "POSTGRES_URL", "BROKER_URL", "REDIS_URL", "MAX_JSON_BODY_BYTES"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port), *extra],
        env=env,
        cwd=cwd,  # no stray .env
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/health")
            return Served(base, port, proc)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"server did not start: {err[-2000:]}")
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[Served]:
    server = _start(data_dir, tmp_path)
    try:
        yield server
    finally:
        _stop(server.proc)


def _raw_request(port: int, head: bytes, body: Iterator[bytes]) -> tuple[int, bytes]:
    """Send ``head`` then ``body`` pieces from a thread (stopping at the first send error, as
    when the server closes) while reading the answer; returns (status, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)

    def send() -> None:
        try:
            sock.sendall(head)
            for piece in body:
                sock.sendall(piece)
        except OSError:
            pass  # the server refused the rest and closed: expected

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            assert piece, f"connection closed before an answer: {data!r}"
            data += piece
        head_part, rest = data.split(b"\r\n\r\n", 1)
        lines = head_part.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        sender.join(timeout=60)
        return int(lines[0].split()[1]), rest
    finally:
        sock.close()


def _pieces(total: int, size: int, chunked: bool) -> Iterator[bytes]:
    piece = b"x" * size
    sent = 0
    while sent < total:
        sent += size
        yield b"%x\r\n%s\r\n" % (size, piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


def _rss(proc: subprocess.Popen[bytes]) -> int:
    return int(psutil.Process(proc.pid).memory_info().rss)


def test_oversized_json_bodies_are_refused_while_reading(served: Served) -> None:
    # Warm up the routes and parsers (small invalid bodies: no password hashing).
    for path in ("/api/auth/login", "/api/drive/folders"):
        for _ in range(3):
            assert httpx.post(served.base + path, json={}).status_code in (400, 401)
    before = _rss(served.proc)
    cases = [
        # The probe's case: a huge declared Content-Length to the unauthenticated login.
        (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % HUGE,
            _pieces(HUGE, 1024 * 1024, chunked=False),
        ),
        # No Content-Length: the body is counted while it arrives.
        (
            b"POST /api/drive/folders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            _pieces(HUGE, 64 * 1024, chunked=True),
        ),
    ]
    for head, body in cases:
        status, answer = _raw_request(served.port, head, body)
        assert status == 413, answer[:200]
        assert orjson.loads(answer) == {
            "errorMessageCode": "BODY_TOO_LARGE",
            "message": "the request body is larger than MAX_JSON_BODY_BYTES",
            "details": {"limit": CAP},
        }
    grown = _rss(served.proc) - before
    assert grown < 8 * 1024 * 1024, f"server memory grew by {grown / 2**20:.1f} MiB"

    # Within the cap the route parses it as before (a name over 64 characters: 400).
    near = httpx.post(
        served.base + "/api/auth/login", json={"name": "n" * (CAP - 100), "password": "p"}
    )
    assert near.status_code == 400
    assert near.json()["errorMessageCode"] == "INVALID_INPUT"
    # The upload routes stream: no body cap there (refused for their own reasons instead).
    big = b"y" * (2 * CAP)
    upload = httpx.put(served.base + "/api/drive/upload", params={"path": "/f"}, content=big)
    assert upload.status_code == 401
    package = httpx.post(
        served.base + "/process/upload",
        content=big,
        headers={"authorization": "Bearer someone@example.com"},
    )
    assert package.status_code == 400
    assert package.json()["errorMessageCode"] == "NOT_A_ZIP"
    chunk = httpx.put(served.base + "/api/drive/uploads/u1/chunks/0", content=big)
    assert chunk.status_code == 401

    # Every answer is nosniff, JSON ones included.
    for response in (near, upload, package, httpx.get(served.base + "/health")):
        assert response.headers["x-content-type-options"] == "nosniff"
    missing = httpx.get(served.base + "/no/such/route")
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"

    # A server without stuck threads still stops cleanly and at once (uvicorn re-raises the
    # signal once shut down, so the status is "ended by SIGTERM", not the watchdog's 1).
    served.proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    assert served.proc.wait(timeout=GRACE + 10) == -signal.SIGTERM
    assert time.monotonic() - start < GRACE + 4


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_server_whose_worker_thread_is_stuck_still_stops(
    data_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """Requests get SHUTDOWN_GRACE_SECONDS, then are cancelled. A stuck thread-pool thread is
    not a daemon: once uvicorn is done, the interpreter would wait for it forever (after
    SIGINT's KeyboardInterrupt, say); the watchdog ends the process instead."""
    marker = tmp_path / "spinning"
    server = _start(data_dir, tmp_path, "--spin", str(marker))
    try:

        def call() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server goes away
                httpx.get(server.base + "/spin", timeout=60)

        threading.Thread(target=call, daemon=True).start()
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert time.monotonic() < deadline, "the spinning route did not start"
            time.sleep(0.05)
        server.proc.send_signal(sig)
        start = time.monotonic()
        # grace for requests + the 5 s margin for the app's shutdown + slack for a busy CI
        code = server.proc.wait(timeout=GRACE + 5 + 10)
        took = time.monotonic() - start
        err = server.proc.stderr.read().decode() if server.proc.stderr else ""
        assert took >= GRACE, took  # running requests were given their grace
        assert "timeout graceful shutdown exceeded" in err
        if sig == signal.SIGINT:
            # uvicorn returns normally; the stuck thread holds the interpreter's exit.
            assert code == 1, err[-2000:]
            assert "shutdown did not finish" in err
            assert took >= GRACE + 4, took
        else:
            # uvicorn re-raises SIGTERM with its default action once shut down.
            assert code in (-signal.SIGTERM, 1), err[-2000:]
    finally:
        _stop(server.proc)
