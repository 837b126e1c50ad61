"""Receiving an uploaded package: a request body streamed to a file, capped, checked as a zip.

Framework-free: the caller hands over the body as an async iterator of byte chunks and its
``Content-Type``; nothing here knows about HTTP requests. Two body forms are accepted:

- the zip itself (``application/zip``, ``application/octet-stream``, anything not multipart);
- ``multipart/form-data`` whose ``file`` (or ``package``) part is the zip; only the first such
  part is kept, other parts are ignored.

Errors (``CordvaultError``): more than ``limit`` bytes -> ``PACKAGE_TOO_LARGE`` (details:
``limit``); an empty body -> ``NOT_A_ZIP``; a multipart body without a boundary, malformed, or
without a non-empty file part -> ``INVALID_INPUT``; bytes without a zip signature ->
``NOT_A_ZIP``; bytes that start like a zip but cannot be opened (truncated, damaged) ->
``CORRUPT_ZIP``, by the analysis's own rules (``insights.package.zipsource.open_zip``).
Chunks are written as they arrive (file writes in a worker thread): the package is never held
in memory. On error the destination may be left partial; the caller removes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from anyio import to_thread

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.package.zipsource import open_zip

#: Room for multipart framing above the package cap when checking a declared length.
MULTIPART_SLACK = 64 * 1024


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse early (``PACKAGE_TOO_LARGE``) a body whose declared length is over the cap."""
    declared = content_length or ""
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise upload_too_large(limit)


async def receive_zip(
    body: AsyncIterator[bytes], content_type: str, dest: Path, limit: int
) -> None:
    """Stream the uploaded zip (raw body or multipart ``file`` part) to ``dest`` and check it
    is a zip (see the module docstring for the errors)."""
    if content_type.startswith("multipart/form-data"):
        await _receive_multipart(body, content_type, dest, limit)
    else:
        await _receive_raw(body, dest, limit)
    await to_thread.run_sync(check_zip, dest)


def check_zip(path: Path) -> None:
    """``NOT_A_ZIP`` without a zip signature, ``CORRUPT_ZIP`` when it starts like a zip but its
    central directory cannot be read (a truncated upload): the analysis's own rules."""
    open_zip(path).close()


def upload_too_large(limit: int) -> CordvaultError:
    return CordvaultError(
        ErrorCode.PACKAGE_TOO_LARGE, "the upload exceeds MAX_UPLOAD_BYTES", details={"limit": limit}
    )


async def _receive_raw(body: AsyncIterator[bytes], dest: Path, limit: int) -> None:
    written = 0
    with dest.open("wb") as out:
        async for chunk in body:
            written += len(chunk)
            if written > limit:
                raise upload_too_large(limit)
            await to_thread.run_sync(out.write, chunk)
    if written == 0:
        raise CordvaultError(ErrorCode.NOT_A_ZIP, "the upload is empty")


async def _receive_multipart(
    body: AsyncIterator[bytes], content_type: str, dest: Path, limit: int
) -> None:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "multipart body without a boundary")
    # Header names and values may arrive in pieces (a chunk boundary can fall anywhere):
    # they are accumulated and looked at when each header ends.
    current: dict[str, Any] = {"field": b"", "value": b"", "is_file": False}
    found = {"file": False, "written": 0}
    out = dest.open("wb")

    def on_part_begin() -> None:
        current.update(field=b"", value=b"", is_file=False)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current["value"] += data[start:end]

    def on_header_end() -> None:
        if current["field"].lower() == b"content-disposition":
            _, disp = parse_options_header(current["value"])
            current["is_file"] = disp.get(b"name") in (b"file", b"package") and not found["file"]
        current.update(field=b"", value=b"")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current["is_file"]:
            found["written"] += end - start
            if found["written"] > limit:
                raise upload_too_large(limit)
            out.write(data[start:end])

    def on_part_end() -> None:
        if current["is_file"]:
            found["file"] = True
        current["is_file"] = False

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except CordvaultError:
        raise
    except Exception as exc:  # python-multipart raises its own parse errors
        raise CordvaultError(ErrorCode.INVALID_INPUT, "malformed multipart body") from exc
    finally:
        out.close()
    if not found["file"] or found["written"] == 0:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the multipart body has no 'file' part")
