"""Helpers of the WebDAV tests: accounts and app passwords over the REST API, Basic auth, and
a real server process (``tests/support/serve_app.py``, as ``cordvault serve``) for clients
that need a socket (litmus, rclone)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery"
SCRIPT = Path(__file__).parents[2] / "support" / "serve_app.py"
ROOT = Path(__file__).parents[3]


def basic(name: str, secret: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(name, secret)


class Accounts:
    """Accounts and app passwords through the REST API of ``client`` (httpx or TestClient)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def register(self, name: str = "alice") -> dict[str, str]:
        r = self.client.post("/api/auth/register", json={"name": name, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return {"authorization": f"Bearer {r.json()['token']}"}

    def add_user(self, admin: dict[str, str], name: str) -> dict[str, str]:
        r = self.client.post(
            "/api/auth/users", json={"name": name, "password": PASSWORD}, headers=admin
        )
        assert r.status_code == 201, r.text
        r = self.client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"authorization": f"Bearer {r.json()['token']}"}

    def app_password(self, headers: dict[str, str], label: str = "laptop") -> tuple[str, str]:
        """``(id, secret)`` of a new app password."""
        r = self.client.post("/api/auth/app-passwords", json={"name": label}, headers=headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"]), str(r.json()["password"])


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]

    @property
    def dav(self) -> str:
        return f"{self.base}/dav/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(data_dir: Path, cwd: Path, **settings: str) -> Iterator[Served]:
    """A real server on a free port with ``settings`` (environment variables)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DRIVE_"))}
    for name in ("DATABASE_URL", "BROKER_URL", "STORAGE_BACKEND", "MESSAGE_ENCRYPTION_KEY"):
        env.pop(name, None)
    env.update({"DATA_DIR": str(data_dir), "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", **settings})
    log = (cwd / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port)], env=env, cwd=cwd, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {(cwd / 'server.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield Served(base, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        log.close()


def need_tool(name: str) -> str:
    """The path of a Debian tool ``scripts/test-tools.sh`` installs (fail in CI, else skip)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CORDVAULT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is missing: run scripts/test-tools.sh")
        pytest.skip(f"{name} is not installed (scripts/test-tools.sh)")
    return path
