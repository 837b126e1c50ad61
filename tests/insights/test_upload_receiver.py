"""``receive_zip`` takes any async iterator of chunks (no web framework) and streams it to disk."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.upload_receiver import check_declared_length, receive_zip


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Account/user.json", "{}")
    return buf.getvalue()


async def _chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _receive(data: bytes, content_type: str, dest: Path, limit: int = 1 << 20) -> None:
    asyncio.run(receive_zip(_chunks(data), content_type, dest, limit))


def test_raw_and_multipart_bodies(tmp_path: Path) -> None:
    """7-byte chunks: every multipart header arrives in pieces and must still be recognised."""
    payload = _zip_bytes()
    raw = tmp_path / "raw.zip"
    _receive(payload, "application/zip", raw)
    assert raw.read_bytes() == payload
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="p.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n" + payload + b"\r\n--XyZ--\r\n"
    )
    part = tmp_path / "multi.zip"
    _receive(body, "multipart/form-data; boundary=XyZ", part)
    assert part.read_bytes() == payload


@pytest.mark.parametrize(
    ("data", "content_type", "limit", "code"),
    [
        (_zip_bytes(), "application/zip", 10, ErrorCode.PACKAGE_TOO_LARGE),
        (b"", "application/octet-stream", 1 << 20, ErrorCode.NOT_A_ZIP),
        (b"PK\x03\x04 but not a zip", "application/zip", 1 << 20, ErrorCode.CORRUPT_ZIP),
        (b"--b\r\n\r\n--b--\r\n", "multipart/form-data", 1 << 20, ErrorCode.INVALID_INPUT),
        (b"--b--\r\n", "multipart/form-data; boundary=b", 1 << 20, ErrorCode.INVALID_INPUT),
    ],
)
def test_refusals(
    tmp_path: Path, data: bytes, content_type: str, limit: int, code: ErrorCode
) -> None:
    with pytest.raises(CordvaultError) as caught:
        _receive(data, content_type, tmp_path / "x.zip", limit)
    assert caught.value.code == code


def test_declared_length_over_the_cap_is_refused_early() -> None:
    check_declared_length(None, 10)
    check_declared_length("not a number", 10)
    check_declared_length(str(10 + 64 * 1024), 10)
    with pytest.raises(CordvaultError) as caught:
        check_declared_length(str(11 + 64 * 1024), 10)
    assert caught.value.code == ErrorCode.PACKAGE_TOO_LARGE
