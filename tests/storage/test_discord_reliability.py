"""The drive on the Discord backend under trouble, end to end over HTTP.

The drive's real HTTP API (``cordvault.web.drive``: streaming uploads, resumable sessions,
downloads with Range) runs with ``STORAGE_BACKEND=discord`` against the emulator over real
HTTP, while the emulator fails about 10% of all API and CDN calls (5xx or connection reset),
throws 429 storms (route and global) and signed URLs expire mid-download. Every file must
come back bit-identical, a failed upload must leave nothing visible, and no plaintext may
reach Discord. A server process killed with SIGKILL in the middle of a resumable upload is
restarted and the upload resumes; the orphan message its death may have left is collected.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.storage.discord_support import CHANNELS, MARKER, TOKEN, make_config, make_store

from cordvault.core.settings import Settings
from cordvault.crypto import ciphertext_size
from cordvault.db import create_engine_for, make_sessionmaker
from cordvault.discord.emulator import EmulatorHandle, FaultRule, running_emulator
from cordvault.drive import gc
from cordvault.drive.models import Chunk
from cordvault.storage.discord.backend import DiscordChunkStore
from cordvault.storage.discord.ledger import DiscordPendingPost
from cordvault.storage.discord.locator import Locator
from cordvault.web.app import create_app

CHUNK = 64 * 1024
PASSWORD = "correct horse battery"


def _payload(size: int, seed: int) -> bytes:
    """Random bytes of ``size`` with the plaintext marker inside when it fits."""
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    if size >= len(MARKER):
        at = rng.randrange(0, size - len(MARKER) + 1)
        data[at : at + len(MARKER)] = MARKER
    return bytes(data)


def _sizes(count: int) -> list[int]:
    edges = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 1, 5 * CHUNK]
    rng = random.Random(7)
    return edges + [rng.randrange(0, 5 * CHUNK) for _ in range(count - len(edges))]


@pytest.fixture
def flaky_emulator() -> Iterator[EmulatorHandle]:
    config = make_config(url_ttl=120.0, seed=4242)
    with running_emulator(config) as emu:
        yield emu


def _drive_settings(tmp_path: Path, emu: EmulatorHandle) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'drive.db'}",
        # The test counts every message left in the channels against the files' chunks; the
        # catalog's records (tests/drive/test_catalog*.py) would be extra messages.
        drive_catalog=False,
        drive_trash_retention_days=0,  # deletes purge at once: the test follows their messages
        storage_backend="discord",
        discord_api_base=emu.api_base,
        discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_channel_ids=",".join(CHANNELS),
        discord_max_file_bytes=2 * CHUNK,
        drive_chunk_size=CHUNK,
        drive_gc_grace_seconds=0,
        drive_gc_interval_seconds=3600,
        message_encryption_key=base64.b64encode(secrets.token_bytes(32)).decode(),  # type: ignore[arg-type]
        drive_secret_key=secrets.token_urlsafe(48),  # type: ignore[arg-type]
    )


def _storms(emu: EmulatorHandle, stop: threading.Event) -> None:
    """Bursts of 429s (0.3 s on, 0.7 s off): on message posts, and now and then global ones."""
    n = 0
    while not stop.wait(0.7):
        n += 1
        rules = [
            emu.add_fault(
                FaultRule(
                    "POST /channels/*/messages", "429", probability=0.5, times=8, retry_after=0.05
                )
            )
        ]
        if n % 3 == 0:
            rules.append(
                emu.add_fault(FaultRule("GET *", "429", times=3, retry_after=0.05, is_global=True))
            )
        stop.wait(0.3)
        for rule in rules:
            rule.times = 0  # the storm is over (rules do not pile up)


def test_200_uploads_survive_faults_429_storms_and_url_expiry(
    flaky_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emu = flaky_emulator
    settings = _drive_settings(tmp_path, emu)
    app = create_app(settings, domains=("cordvault.web.drive",))
    drive = app.state.services.drive
    with TestClient(app) as client:
        store = make_store(
            emu,
            drive.sessions,
            max_file_bytes=2 * CHUNK,
            url_refresh_margin=20.0,
            client_options={"max_retries": 10},  # the storms are denser than Discord's
        )
        drive.replace_store(store)
        assert ciphertext_size(CHUNK) <= store.capabilities.max_chunk_size
        r = client.post("/api/auth/register", json={"name": "admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        assert client.post("/api/drive/mkdir", params={"path": "/r"}, headers=headers).is_success

        # An upload Discord keeps refusing fails cleanly: an error, no file, nothing stored.
        outage = emu.add_fault(FaultRule("POST /channels/*/messages", "503"))
        before = len(emu.state.messages)
        r = client.put(
            "/api/drive/upload",
            params={"path": "/r/doomed.bin"},
            content=_payload(3 * CHUNK + 1, 1),
            headers=headers,
        )
        assert r.status_code == 503, r.text
        assert r.json()["errorMessageCode"] == "STORAGE_UNAVAILABLE"
        seen = client.get("/api/drive/resolve", params={"path": "/r/doomed.bin"}, headers=headers)
        assert seen.status_code == 404
        assert len(emu.state.messages) == before
        outage.times = 0

        # 10% of every API and CDN call fails: half 5xx, half connection resets.
        emu.add_fault(FaultRule("*", "503", probability=0.05))
        emu.add_fault(FaultRule("*", "reset", probability=0.053))
        stop = threading.Event()
        storms = threading.Thread(target=_storms, args=(emu, stop), daemon=True)
        storms.start()
        sizes = _sizes(200)
        files = {i: _payload(size, i) for i, size in enumerate(sizes)}
        failed_attempts = 0
        lock = threading.Lock()

        def upload(i: int) -> str:
            nonlocal failed_attempts
            path = f"/r/f{i:03d}.bin"
            for _ in range(5):
                r = client.put(
                    "/api/drive/upload", params={"path": path}, content=files[i], headers=headers
                )
                if r.status_code == 201:
                    return str(r.json()["file"]["id"])
                # A failed upload leaves nothing half-visible.
                seen = client.get("/api/drive/resolve", params={"path": path}, headers=headers)
                assert seen.status_code == 404, seen.text
                with lock:
                    failed_attempts += 1
            raise AssertionError(f"upload {i} kept failing")

        try:
            with ThreadPoolExecutor(8) as pool:
                ids = dict(zip(files, pool.map(upload, files), strict=True))
        finally:
            stop.set()
            storms.join()

        # Downloads after the URLs expired: the emulator's clock jumps past their `ex` before
        # each group of 50 (not during one: a URL fetched a moment ago must stay valid).
        def download(i: int) -> None:
            r = client.get(f"/api/drive/files/{ids[i]}/content", headers=headers)
            assert r.status_code == 200, r.text
            assert hashlib.sha256(r.content).digest() == hashlib.sha256(files[i]).digest(), i
            size = len(files[i])
            if size > CHUNK + 10:
                lo, hi = CHUNK - 5, min(size - 1, CHUNK + 5)
                r = client.get(
                    f"/api/drive/files/{ids[i]}/content",
                    headers={**headers, "Range": f"bytes={lo}-{hi}"},
                )
                assert r.status_code == 206
                assert r.content == files[i][lo : hi + 1]

        order = list(files)
        for group in range(0, len(order), 50):
            emu.state.advance(400)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(download, order[group : group + 50]))

        listing = client.get("/api/drive/resolve", params={"path": "/r"}, headers=headers)
        folder_id = listing.json()["folder"]["id"]
        names: list[str] = []
        for offset in (0, 100):
            page = client.get(
                f"/api/drive/folders/{folder_id}",
                params={"limit": 100, "offset": offset},
                headers=headers,
            ).json()
            assert page["total_files"] == 200
            names += [item["name"] for item in page["items"]]
        assert sorted(names) == [f"f{i:03d}.bin" for i in range(200)]

        # Discord never saw a byte of plaintext.
        blobs = list(emu.state.iter_attachment_bytes())
        assert blobs
        assert not any(MARKER in data for _, data in blobs)

        # Deleting the folder removes every message from Discord (drive GC -> deletion
        # records -> background deleter; here run by hand, faults off).
        emu.state.faults.clear()
        r = client.delete(f"/api/drive/folders/{folder_id}", headers=headers)
        assert r.is_success, r.text
        gc.collect(drive)
        store.flush_deletions(orphan_grace=0.0)  # no upload runs now: lost posts are orphans
        assert emu.state.messages == {}
        assert store.ledger.deletion_count() == 0

    stats = emu.state.stats()
    assert stats.faults["503"] > 0
    assert stats.faults["reset"] > 0
    assert stats.faults["429"] > 0
    assert store.urls.stats.expired_retries > 0
    print(
        f"failed upload attempts: {failed_attempts}, faults: {dict(stats.faults)}, "
        f"429s: {stats.total_rate_limited}, url retries: {store.urls.stats.expired_retries}"
    )


# -- a server killed mid-upload ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cordvault serve`` on a free port; returns the process and its base URL.

    A port found free can be taken by another process before the server binds it (other test
    runs share the machine): then the next port is tried.
    """
    for _attempt in range(3):
        port = _free_port()
        with log.open("ab") as out:  # a file, not a pipe: a full pipe would stall the server
            proc = subprocess.Popen(
                [sys.executable, "-m", "cordvault", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/auth/me", timeout=1)
                return proc, f"http://127.0.0.1:{port}"
            except httpx.TransportError:
                time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    raise AssertionError(log.read_text())


def test_a_server_killed_mid_upload_resumes(tmp_path: Path) -> None:
    config = make_config(seed=5)
    with running_emulator(config) as emu:
        db_url = f"sqlite:///{tmp_path / 'drive.db'}"
        env = {
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": db_url,
            "STORAGE_BACKEND": "discord",
            "DISCORD_API_BASE": emu.api_base,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_CHANNEL_IDS": ",".join(CHANNELS),
            "DISCORD_MAX_FILE_BYTES": str(2 * CHUNK),
            "DISCORD_ORPHAN_GRACE_SECONDS": "1",
            "DRIVE_CHUNK_SIZE": str(CHUNK),
            "MESSAGE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "DRIVE_SECRET_KEY": secrets.token_urlsafe(48),
            # The fault below must hit the upload's post, not a catalog record's.
            "DRIVE_CATALOG": "0",
        }
        data = _payload(6 * CHUNK + 123, 99)
        first, base = _serve(env, tmp_path / "server.log")
        try:
            r = httpx.post(
                f"{base}/api/auth/register", json={"name": "admin", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            body: dict[str, Any] = {
                "name": "big.bin",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            up = httpx.post(f"{base}/api/drive/uploads", json=body, headers=headers).json()
            pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
            for index in range(3):
                r = httpx.put(
                    f"{base}/api/drive/uploads/{up['id']}/chunks/{index}",
                    content=pieces[index],
                    headers=headers,
                )
                assert r.status_code == 200, r.text
            # Chunk 3's message post hangs at Discord; the server dies while it waits.
            emu.add_fault(FaultRule("POST /channels/*/messages", "slow", delay=2.0, times=1))

            def doomed_put() -> None:
                with contextlib.suppress(httpx.TransportError):  # the server dies under it
                    httpx.put(
                        f"{base}/api/drive/uploads/{up['id']}/chunks/3",
                        content=pieces[3],
                        headers=headers,
                        timeout=30,
                    )

            putter = threading.Thread(target=doomed_put)
            putter.start()
            deadline = time.monotonic() + 20
            while emu.state.stats().faults["slow"] == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            putter.join(30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)

        # Discord finishes the hung post on its own (or not) once the delay is over; a real
        # orphan grace (15 min) outlasts any request, the test's 1 s one must not race it.
        time.sleep(2.5)
        # Chunks 0-2 went in a message each; the hung post usually completed too (an orphan).
        assert len(emu.state.messages) in (3, 4)
        engine = create_engine_for(db_url)
        sessions = make_sessionmaker(engine)
        with sessions() as db:
            pending = db.scalars(select(DiscordPendingPost)).all()
        assert len(pending) == 1  # the post the kill interrupted is journaled

        second, base = _serve(env, tmp_path / "server.log")
        try:
            status = httpx.get(f"{base}/api/drive/uploads/{up['id']}", headers=headers).json()
            assert status["received"] == [0, 1, 2]
            for index in range(3, len(pieces)):
                r = httpx.put(
                    f"{base}/api/drive/uploads/{up['id']}/chunks/{index}",
                    content=pieces[index],
                    headers=headers,
                )
                assert r.status_code == 200, r.text
            done = httpx.post(f"{base}/api/drive/uploads/{up['id']}/complete", headers=headers)
            assert done.status_code == 200, done.text
            file_id = done.json()["file"]["id"]
            got = httpx.get(f"{base}/api/drive/files/{file_id}/content", headers=headers)
            assert got.content == data
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)

        # The message the killed server may have left is an orphan: collected from the journal.
        store: DiscordChunkStore = make_store(
            emu, sessions, background_deletes=False, orphan_grace=1.0
        )
        try:
            store.flush_deletions()
        finally:
            store.close()
        with sessions() as db:
            assert db.scalars(select(DiscordPendingPost)).all() == []
            locators = db.scalars(select(Chunk.locator)).all()
        engine.dispose()
        referenced = {Locator.parse(x).message_id for x in locators}  # type: ignore[union-attr]
        assert set(emu.state.messages) == referenced  # nothing orphaned on Discord
