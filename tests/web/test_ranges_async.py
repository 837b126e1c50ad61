"""``ranged_response`` with an async producer (the drive's downloads) through real uvicorn:
the pieces are taken on the event loop, a failure mid-stream cuts the answer short, a failure
before the first byte is a JSON error, and a client that goes away closes the producer."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.responses import Response
from tests.support.live_server import serving
from tests.support.rangeapp import LAST_MODIFIED, parse_byteranges

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.web.ranges import ranged_response


@dataclass
class _Stream(Iterator[bytes], AsyncIterator[bytes]):
    """An open range usable only asynchronously (its sync side fails the test)."""

    source: AsyncSource
    start: int
    end: int
    offset: int = -1

    def __next__(self) -> bytes:
        raise AssertionError("an async producer was advanced synchronously")

    async def __anext__(self) -> bytes:
        src = self.source
        if self.offset < 0:
            self.offset = self.start
        if self.offset >= self.end:
            raise StopAsyncIteration
        if src.fail_at is not None and self.offset >= src.fail_at:
            raise CordvaultError(ErrorCode.INTEGRITY_ERROR, "bad piece")
        await asyncio.sleep(0)
        piece = src.data[self.offset : min(self.offset + src.piece, self.end)]
        self.offset += len(piece)
        src.produced += len(piece)
        return piece

    async def aclose(self) -> None:
        self.source.closed += 1


@dataclass
class AsyncSource:
    data: bytes
    piece: int = 7
    fail_at: int | None = None
    produced: int = 0
    closed: int = 0
    opened: list[tuple[int, int]] = field(default_factory=list)

    def open_range(self, start: int, end: int) -> _Stream:
        self.opened.append((start, end))
        return _Stream(self, start, end)


def _app(source: AsyncSource) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(CordvaultError)
    async def _error(_request: Request, exc: CordvaultError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.api_route("/file", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        return ranged_response(
            request,
            size=len(source.data),
            etag="v1",
            last_modified=LAST_MODIFIED,
            media_type="application/octet-stream",
            filename="a.bin",
            inline=False,
            open_range=source.open_range,
        )

    return app


DATA = os.urandom(1000)


def test_async_producer_whole_single_and_multipart() -> None:
    source = AsyncSource(DATA)
    client = TestClient(_app(source))
    assert client.get("/file").content == DATA
    r = client.get("/file", headers={"range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, DATA[10:20])
    r = client.get("/file", headers={"range": "bytes=0-4,500-509,-3"})
    parts = parse_byteranges(r.content, r.headers["content-type"])
    assert [p[4] for p in parts] == [DATA[:5], DATA[500:510], DATA[-3:]]
    assert source.closed == len(source.opened) == 5


def test_async_failure_before_the_first_byte_is_a_json_error() -> None:
    source = AsyncSource(DATA, fail_at=0)
    r = TestClient(_app(source)).get("/file", headers={"range": "bytes=10-20"})
    assert r.status_code == 500
    assert r.json()["errorMessageCode"] == "INTEGRITY_ERROR"
    assert source.closed == 1


def test_async_failure_mid_stream_cuts_the_response_short() -> None:
    source = AsyncSource(os.urandom(4 * 1024 * 1024), piece=64 * 1024, fail_at=1024 * 1024)
    received = bytearray()

    def download(client: httpx.Client) -> None:
        with client.stream("GET", "/file") as response:
            assert response.status_code == 200
            for piece in response.iter_raw():
                received.extend(piece)

    with (
        serving(_app(source)) as base,
        httpx.Client(base_url=base) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        download(client)
    assert bytes(received) == source.data[: len(received)]
    assert len(received) <= 1024 * 1024
    assert source.closed == 1


def test_async_client_disconnect_closes_the_producer() -> None:
    source = AsyncSource(os.urandom(64 * 1024 * 1024), piece=256 * 1024)
    with serving(_app(source)) as base, httpx.Client(base_url=base) as client:
        with client.stream("GET", "/file") as response:
            assert response.status_code == 200
            next(response.iter_raw())
        deadline = time.monotonic() + 10
        while source.closed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert source.closed == 1
    assert source.produced < len(source.data)
