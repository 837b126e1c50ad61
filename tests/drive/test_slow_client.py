"""A slow client does not make the server buffer a whole file (issue 15).

A real uvicorn server streams a 64 MiB file to a client that reads 1 MiB and then stops
reading: the server must stop reading the store a few chunks ahead of what the socket took
(read-ahead + kernel socket buffers), not fetch and decrypt the rest of the file meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

import httpx
from tests.drive.conftest import drive_settings
from tests.drive.support import PASSWORD
from tests.support.live_server import serving

from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore
from cordvault.web.app import create_app

MiB = 1024 * 1024
SIZE = 64 * MiB


def _settled(store: CountingChunkStore, timeout: float = 10.0) -> int:
    """Bytes read from the store once reading has stopped (no change for 0.5 s)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now = store.counters.bytes_read
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    return store.counters.bytes_read


def _upload(client: httpx.Client, data: bytes) -> tuple[dict[str, str], str]:
    """Register the first account, upload ``data``: its auth headers and content URL."""
    r = client.post("/api/auth/register", json={"name": "admin", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.put("/api/drive/upload", params={"path": "/f.bin"}, content=data, headers=headers)
    assert r.status_code == 201, r.text
    return headers, f"/api/drive/files/{r.json()['file']['id']}/content"


def test_a_stalled_download_stops_reading_the_store(sqlite_url: str, data_dir: Path) -> None:
    settings = drive_settings(sqlite_url, data_dir, drive_chunk_size=MiB)
    app = create_app(settings, domains=("cordvault.web.drive",))
    store = CountingChunkStore(LocalChunkStore(data_dir / "chunks", fsync=False))
    app.state.services.drive.replace_store(store)
    data = os.urandom(SIZE)
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        headers, url = _upload(client, data)
        store.reset()
        digest = hashlib.sha256()
        with client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200
            pieces = response.iter_raw(64 * 1024)
            got = 0
            while got < MiB:
                piece = next(pieces)
                digest.update(piece)
                got += len(piece)
            read_while_stalled = _settled(store)
            # A few chunks of read-ahead plus what the socket buffers hold, not the file.
            assert read_while_stalled < 24 * MiB, f"{read_while_stalled / MiB:.0f} MiB read"
            for piece in pieces:
                digest.update(piece)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
        assert store.counters.bytes_read > SIZE  # the whole file (envelopes) in the end


def test_many_stalled_downloads_share_one_read_ahead_budget(
    sqlite_url: str, data_dir: Path
) -> None:
    """32 clients start the same download and stop reading: the server's read-ahead of all of
    them stays within DRIVE_DOWNLOAD_BUFFER_BYTES, it keeps answering, and once the clients
    read again every download completes intact and every charge is given back."""
    budget_bytes = 4 * MiB
    settings = drive_settings(
        sqlite_url, data_dir, drive_chunk_size=MiB, drive_download_buffer_bytes=budget_bytes
    )
    app = create_app(settings, domains=("cordvault.web.drive",))
    drive = app.state.services.drive
    data = os.urandom(24 * MiB)  # more than the sockets' buffers take
    expected = hashlib.sha256(data).hexdigest()
    limits = httpx.Limits(max_connections=64)
    with serving(app) as base, httpx.Client(base_url=base, timeout=60, limits=limits) as client:
        headers, url = _upload(client, data)
        with contextlib.ExitStack() as stack:
            streams = []
            for _ in range(32):
                response = stack.enter_context(client.stream("GET", url, headers=headers))
                assert response.status_code == 200
                pieces = response.iter_raw(64 * 1024)
                digest = hashlib.sha256(next(pieces))
                streams.append((pieces, digest))
            time.sleep(1.0)  # let every read-ahead that can start, start
            assert 0 < drive.download_budget.used <= budget_bytes
            # A new reader is served at once though the budget is spent: the chunk it waits
            # for is never charged.
            started = time.monotonic()
            r = client.get(url, headers={**headers, "Range": "bytes=1000-2023"})
            assert r.status_code == 206
            assert r.content == data[1000:2024]
            assert time.monotonic() - started < 2.0
            for pieces, digest in streams:
                for piece in pieces:
                    digest.update(piece)
                assert digest.hexdigest() == expected
    assert drive.download_budget.peak <= budget_bytes
    assert drive.download_budget.used == 0
