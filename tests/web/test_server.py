"""Encrypted chunks served with Range through a real uvicorn server on 127.0.0.1.

Proves the pieces together: ranges crossing chunk boundaries (and starting after the first
chunk) are byte-exact, a client that goes away stops the reads, and a failure mid-stream cuts the
response short (the client notices) instead of sending wrong bytes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response
from tests.support.rangeapp import LAST_MODIFIED, Source, make_app, parse_byteranges

from cordvault.core.errors import CordvaultError
from cordvault.crypto import new_file_key
from cordvault.drive.streaming import ChunkReader, ChunkRef, ChunkWriter
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore
from cordvault.web.ranges import ranged_response

CHUNK = 100_000
FILE_ID = "served-file"


class _Server:
    """uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        sock: socket.socket = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def _file_app(tmp_path: Path, data: bytes) -> tuple[FastAPI, CountingChunkStore]:
    store = CountingChunkStore(LocalChunkStore(tmp_path / "chunks", fsync=False))
    key = new_file_key()
    pieces = (data[i : i + 65536] for i in range(0, len(data), 65536))
    chunks: list[ChunkRef] = ChunkWriter(store, key, FILE_ID, 1, CHUNK).write_stream(pieces).chunks
    app = FastAPI()

    @app.exception_handler(CordvaultError)
    async def _error(_request: Request, exc: CordvaultError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    def open_range(start: int, end: int) -> Iterator[bytes]:
        reader = ChunkReader(store, key, FILE_ID, 1, chunks)
        try:
            yield from reader.iter_range(start, end)
        finally:
            reader.close()

    @app.api_route("/f/{name}", methods=["GET", "HEAD"])
    def serve(request: Request, name: str) -> Response:
        return ranged_response(
            request,
            size=len(data),
            etag="abc",
            last_modified=LAST_MODIFIED,
            media_type="video/mp4",
            filename=name,
            inline=True,
            open_range=open_range,
        )

    return app, store


def test_ranges_across_chunk_boundaries_over_http(tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK + 4321)
    app, store = _file_app(tmp_path, data)
    size = len(data)
    cases = [
        (0, size),
        (0, 1),
        (CHUNK - 1, CHUNK + 1),  # straddles the first boundary
        (2 * CHUNK + 17, 4 * CHUNK + 3),  # starts after the first chunk, spans several
        (3 * CHUNK, 3 * CHUNK + 1),  # first byte of a later chunk
        (size - 1, size),  # last byte
    ]
    with _Server(app) as base, httpx.Client(base_url=base) as client:
        full = client.get("/f/clip.mp4")
        assert full.status_code == 200
        assert full.content == data
        assert full.headers["content-disposition"] == 'inline; filename="clip.mp4"'
        for start, end in cases:
            response = client.get("/f/clip.mp4", headers={"range": f"bytes={start}-{end - 1}"})
            assert response.status_code == 206
            assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
            assert response.content == data[start:end]
        several = [cases[2], cases[3], cases[5]]
        spec = ",".join(f"{s}-{e - 1}" for s, e in several)
        response = client.get("/f/clip.mp4", headers={"range": f"bytes={spec}"})
        parts = parse_byteranges(response.content, response.headers["content-type"])
        assert [p[4] for p in parts] == [data[s:e] for s, e in several]
        assert {p[0] for p in parts} == {"video/mp4"}
        store.reset()
        tail = client.get("/f/clip.mp4", headers={"range": "bytes=-1024"})
        assert tail.content == data[-1024:]
        assert store.counters.gets == 1  # one segment span of the last chunk
        head = client.head("/f/clip.mp4")
        assert head.headers["content-length"] == str(size)
        assert head.content == b""


def test_client_disconnect_stops_the_producer() -> None:
    source = Source(os.urandom(64 * 1024 * 1024), piece=256 * 1024)
    with _Server(make_app(source)) as base, httpx.Client(base_url=base) as client:
        with client.stream("GET", "/file") as response:
            assert response.status_code == 200
            stream = response.iter_raw()
            next(stream)
        # The connection is closed here, long before 64 MiB were sent.
        deadline = time.monotonic() + 10
        while source.closed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert source.closed == 1
    assert source.produced < len(source.data)


def test_failure_mid_stream_cuts_the_response_short() -> None:
    source = Source(os.urandom(4 * 1024 * 1024), piece=64 * 1024, fail_at=1024 * 1024)
    with _Server(make_app(source)) as base, httpx.Client(base_url=base) as client:
        received = bytearray()

        def download() -> None:
            with client.stream("GET", "/file") as response:
                assert response.status_code == 200
                for piece in response.iter_raw():
                    received.extend(piece)

        with pytest.raises(httpx.RemoteProtocolError):
            download()
    assert bytes(received) == source.data[: len(received)]
    assert len(received) <= 1024 * 1024
