"""Two real `cordvault serve` processes on one PostgreSQL database and one Redis behave like
one: a change made through either reaches the sockets of both, thumbnails made by either are
announced on both, and a password change through one closes sockets on the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.drive import media
from tests.support.live_server import Socket
from tests.support.processes import PASSWORD, account_token, free_port, wait_healthy


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cordvault", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(proc, base, logs=lambda: proc.stderr.read() if proc.stderr else "")
    return proc, base


@pytest.fixture
def two_servers(postgres_url: str, redis_url: str, data_dir: Path) -> Iterator[tuple[str, str]]:
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": postgres_url}
    env.update(BROKER_URL=redis_url, PREVIEW_POLL_SECONDS="0.5", STORAGE_BACKEND="local")
    env.pop("POSTGRES_URL", None)
    env.pop("REDIS_URL", None)
    first, base_a = _start(env)  # creates the keys in DATA_DIR; the second reads them
    second, base_b = _start(env)
    # With BROKER_URL, thumbnails are made by `cordvault worker` (the job framework's Celery side).
    worker = subprocess.Popen(
        [sys.executable, "-m", "cordvault", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield base_a, base_b
    finally:
        for proc in (first, second, worker):
            proc.terminate()
        for proc in (first, second, worker):
            proc.wait(timeout=30)


def _socket(base: str, token: str) -> Socket:
    sock = Socket(base)
    assert sock.auth(token)["id"] == "s2c:auth-ok"
    return sock


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_behave_like_one(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    alice = account_token(a, "alice")
    bob = account_token(a, "bob", admin=alice)
    carol = account_token(b, "carol", admin=alice)
    on_b_alice, on_b_bob, on_a_carol = _socket(b, alice), _socket(b, bob), _socket(a, carol)
    time.sleep(0.5)  # both listeners are subscribed well before this

    # A change through process A reaches sockets on B (and A); one through B reaches A.
    r = httpx.put(
        f"{a}/api/drive/upload",
        params={"path": "/pic.png"},
        content=media.image("PNG"),
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert r.status_code == 201, r.text
    pic = r.json()["file"]["id"]
    seen_by_alice = on_b_alice.events(1.0)
    for got in (seen_by_alice, on_b_bob.events(0.2), on_a_carol.events(0.2)):
        assert [p["data"]["change"] for p in got if p["id"] == "s2c:file-modify"] == ["created"]
    made = on_b_bob.request("c2s:create-folder", {"path": "/from-b"})
    assert made["data"]["success"] is True
    assert [p["data"]["action"] for p in on_a_carol.events(1.0)] == ["add"]

    # The thumbnail (made by the Celery worker) is announced to its readers only.
    deadline = time.monotonic() + 30
    ready = [p for p in seen_by_alice if p["id"] == "s2c:thumbnail-ready"]
    while not ready and time.monotonic() < deadline:
        ready = [p for p in on_b_alice.events(0.5) if p["id"] == "s2c:thumbnail-ready"]
    assert ready, "no thumbnail-ready event"
    assert ready[0]["data"] == {"file_id": pic, "content_version": 1, "sizes": ["list", "grid"]}
    assert not [p for p in on_b_bob.events(0.3) if p["id"] == "s2c:thumbnail-ready"]
    thumb = httpx.get(
        f"{b}/api/drive/files/{pic}/thumbnail",
        params={"size": "list"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert thumb.status_code == 200
    assert thumb.content[:3] == b"\xff\xd8\xff"

    # A password change through A closes bob's socket on B within a second of the answer
    # (the change commits just before it; the request itself spends its time in argon2).
    r = httpx.post(
        f"{a}/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "a different one"},
        headers={"Authorization": f"Bearer {bob}"},
    )
    start = time.monotonic()
    assert r.status_code == 200, r.text
    assert on_b_bob.close_code(2.0) == 4401
    assert time.monotonic() - start < 1.0
    assert on_b_alice.request("c2s:ping")["id"] == "s2c:pong"
    for sock in (on_b_alice, on_a_carol):
        sock.close()
