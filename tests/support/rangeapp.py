"""A tiny real app serving known bytes through ``ranged_response``, plus a multipart parser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.web.ranges import ranged_response

LAST_MODIFIED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ETAG = '"content-v1"'


@dataclass
class Source:
    """Known content served in small pieces; records every open and close."""

    data: bytes
    piece: int = 7
    opened: list[tuple[int, int]] = field(default_factory=list)
    closed: int = 0
    produced: int = 0
    fail_at: int | None = None

    def open_range(self, start: int, end: int) -> Iterator[bytes]:
        self.opened.append((start, end))
        try:
            for offset in range(start, end, self.piece):
                if self.fail_at is not None and offset >= self.fail_at:
                    raise CordvaultError(ErrorCode.INTEGRITY_ERROR, "bad piece")
                chunk = self.data[offset : min(offset + self.piece, end)]
                self.produced += len(chunk)
                yield chunk
        finally:
            self.closed += 1


def make_app(
    source: Source, *, filename: str | None = "report.bin", media_type: str = ""
) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(CordvaultError)
    async def _error(_request: Request, exc: CordvaultError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.api_route("/file", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        return ranged_response(
            request,
            size=len(source.data),
            etag="content-v1",
            last_modified=LAST_MODIFIED,
            media_type=media_type or "application/octet-stream",
            filename=filename,
            inline=False,
            open_range=source.open_range,
        )

    return app


_PART_HEAD = re.compile(
    rb"^Content-Type: ([^\r\n]+)\r\nContent-Range: bytes (\d+)-(\d+)/(\d+)\r\n\r\n", re.DOTALL
)


def parse_byteranges(body: bytes, content_type: str) -> list[tuple[str, int, int, int, bytes]]:
    """Strictly parse a multipart/byteranges body -> (type, first, last, total, data) per part."""
    match = re.fullmatch(r"multipart/byteranges; boundary=([0-9a-f]+)", content_type)
    assert match, content_type
    delimiter = b"--" + match.group(1).encode()
    assert body.endswith(delimiter + b"--\r\n")
    body = body[: -len(delimiter + b"--\r\n")]
    pieces = body.split(delimiter + b"\r\n")
    assert pieces[0] == b""
    parts = []
    for raw in pieces[1:]:
        head = _PART_HEAD.match(raw)
        assert head, raw[:200]
        data = raw[head.end() :]
        assert data.endswith(b"\r\n")
        first, last, total = (int(head.group(i)) for i in (2, 3, 4))
        parts.append((head.group(1).decode(), first, last, total, data[:-2]))
    return parts
