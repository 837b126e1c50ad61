"""Real ``cordvault serve`` processes in tests: a free port, waiting until one answers, and an
account's token from it over real HTTP. One copy for the tests that start servers as separate
processes (the scaled deployment, two API processes, the Celery thumbnail workers, the CLI).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx

PASSWORD = "correct horse battery"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    proc: subprocess.Popen[bytes],
    base: str,
    *,
    logs: Callable[[], object],
    timeout: float = 60,
) -> httpx.Response:
    """Poll ``{base}/health`` until it answers, and return that answer. Fails the test if
    ``timeout`` seconds pass first ("serve did not start"), or if ``proc`` exits first (with
    ``logs()``: only called once ``proc`` has exited, so it may read the process's pipes)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"{base}/health")
        except httpx.TransportError:
            assert proc.poll() is None, logs()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)


def account_token(base: str, name: str, admin: str | None = None) -> str:
    """A bearer token of a new account ``name`` (password :data:`PASSWORD`) on the server at
    ``base``: registered through ``/api/auth/register`` or, given an ``admin``'s token,
    created by that admin and then signed in."""
    if admin is None:
        r = httpx.post(f"{base}/api/auth/register", json={"name": name, "password": PASSWORD})
    else:
        r = httpx.post(
            f"{base}/api/auth/users",
            json={"name": name, "password": PASSWORD},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 201, r.text
        r = httpx.post(f"{base}/api/auth/login", json={"name": name, "password": PASSWORD})
    assert r.status_code in (200, 201), r.text
    token: str = r.json()["token"]
    return token
