"""Thumbnails on the Celery side of the job framework: a real `cordvault serve` that makes no
thumbnail itself, real `cordvault worker` processes, Redis, PostgreSQL and a WebSocket client.

The broker sees the file's id only; a lost wake-up message does not stall the queue (the
periodic pass sends another); `cordvault drive thumbnails` queues missing ones for the workers.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text
from tests.drive import media
from tests.support.live_server import Socket
from tests.support.processes import PASSWORD, free_port, wait_healthy

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


class Procs:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cordvault", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def serve(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        proc = self.spawn("serve", "serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(proc, base, logs=self.logs)
        return proc, base

    def worker(self) -> subprocess.Popen[bytes]:
        return self.spawn("worker", "worker", "--concurrency", "2")

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))


@pytest.fixture
def procs(postgres_url: str, redis_url: str, data_dir: Path, tmp_path: Path) -> Iterator[Procs]:
    broker = f"{redis_url.rsplit('/', 1)[0]}/{random.randint(1, 15)}"
    redis.Redis.from_url(broker).delete("previews")
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": postgres_url}
    env.update(BROKER_URL=broker, PREVIEW_POLL_SECONDS="0.5", STORAGE_BACKEND="local")
    env.update(DEBUG_LOGGING="1")
    env.pop("POSTGRES_URL", None)
    env.pop("REDIS_URL", None)
    logdir = tmp_path / "logs"
    logdir.mkdir()
    running = Procs(env, logdir)
    yield running
    for proc in running.procs:
        Procs.stop(proc)


def _states(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            rows = db.execute(text("SELECT file_id, state FROM drive_previews"))
            return {str(fid): str(state) for fid, state in rows}
    finally:
        engine.dispose()


def _sql(database_url: str, statement: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as db:
            db.execute(text(statement))
    finally:
        engine.dispose()


def _wait_ready(sock: Socket, file_id: str, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for packet in sock.events(0.5):
            if packet["id"] == "s2c:thumbnail-ready" and packet["data"]["file_id"] == file_id:
                return dict(packet["data"])
    raise AssertionError(f"no thumbnail-ready for {file_id}")


def test_celery_worker_makes_thumbnails_for_an_api_without_preview_threads(
    procs: Procs, postgres_url: str
) -> None:
    server, base = procs.serve()
    r = httpx.post(f"{base}/api/auth/register", json={"name": "alice", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    sock = Socket(base)
    assert sock.auth(r.json()["token"])["id"] == "s2c:auth-ok"
    broker = redis.Redis.from_url(procs.env["BROKER_URL"])

    def upload(name: str, data: bytes) -> str:
        r = httpx.put(
            f"{base}/api/drive/upload", params={"path": f"/{name}"}, content=data, headers=auth
        )
        assert r.status_code == 201, r.text
        return str(r.json()["file"]["id"])

    def thumbnail(file_id: str) -> httpx.Response:
        return httpx.get(
            f"{base}/api/drive/files/{file_id}/thumbnail", params={"size": "grid"}, headers=auth
        )

    # No worker: the API queues a task carrying the file id only, and makes nothing itself.
    pic = upload("holiday-secret-name.png", media.image("PNG", (640, 480)))
    time.sleep(2.0)
    assert thumbnail(pic).status_code == 404
    assert thumbnail(pic).json()["errorMessageCode"] == "NO_THUMBNAIL"
    assert _states(postgres_url) == {}
    messages = broker.lrange("previews", 0, -1)
    assert len(messages) >= 1
    first = json.loads(messages[0])
    assert json.loads(base64.b64decode(first["body"]))[0] == [pic]
    assert first["headers"]["task"] == "cordvault.drive.make_thumbnails"
    assert not any(b"holiday" in m or b"image/png" in m for m in messages)

    # The message is lost (broker flushed); a worker starts: the periodic pass re-sends one.
    broker.delete("previews")
    worker = procs.worker()
    ready = _wait_ready(sock, pic, 60)
    assert ready == {"file_id": pic, "content_version": 1, "sizes": ["list", "grid"]}
    got = thumbnail(pic)
    assert got.status_code == 200
    assert got.content[:3] == b"\xff\xd8\xff"
    assert got.headers["etag"]

    # With the worker running, an upload's thumbnail follows within seconds; a hostile file
    # ends in "no thumbnail" and the worker goes on.
    start = time.monotonic()
    second = upload("second.jpg", media.image("JPEG", (1200, 900)))
    bomb = upload("bomb.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    _wait_ready(sock, second, 30)
    assert time.monotonic() - start < 30
    deadline = time.monotonic() + 30
    while _states(postgres_url).get(bomb) != "none":
        assert time.monotonic() < deadline, _states(postgres_url)
        time.sleep(0.3)
    assert worker.poll() is None

    # `cordvault drive thumbnails` queues missing thumbnails for the workers (none here now).
    Procs.stop(worker)
    Procs.stop(server)
    broker.delete("previews")
    _sql(postgres_url, "DELETE FROM drive_previews")
    cli = subprocess.run(
        [sys.executable, "-m", "cordvault", "drive", "thumbnails"],
        env=procs.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "3 file(s) queued for the thumbnail workers" in cli.stdout
    assert broker.llen("previews") == 3
    assert _states(postgres_url) == {}
    procs.worker()
    deadline = time.monotonic() + 60
    while sorted(_states(postgres_url).values()) != ["none", "ready", "ready"]:
        assert time.monotonic() < deadline, (_states(postgres_url), procs.logs()[-3000:])
        time.sleep(0.3)
    sock.close()
