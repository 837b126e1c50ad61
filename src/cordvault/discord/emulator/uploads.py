"""Reading a message-create request body the way Discord does.

Accepts ``multipart/form-data`` (``payload_json`` + ``files[n]`` parts) or plain JSON. The body
is counted while it streams in, so a request over ``max_request_size`` is refused (413 / 40005)
without being buffered; each file over ``max_file_size`` is refused the same way; more than
``max_attachments`` files answers 400 / 30015. Files are spooled by Starlette's parser (memory
up to 1 MiB, then a temp file), never held whole in memory.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from cordvault.discord.emulator.state import EmulatorConfig

_FILE_FIELD = re.compile(r"files\[(\d+)\]|file\d*")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_MAX_JSON = 1024 * 1024


class Refusal(Exception):
    """An error answer in Discord's shape: ``{"message", "code"}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


TOO_LARGE = (413, 40005, "Request entity too large")


@dataclass
class Upload:
    """A parsed create request: the JSON payload and the files, in ``files[n]`` order."""

    payload: dict[str, Any]
    files: list[tuple[str, str, UploadFile]]  # (filename, content type, file)

    async def close(self) -> None:
        for _, _, upload in self.files:
            await upload.close()


def safe_filename(name: str) -> str:
    """What Discord does to names: no paths, odd characters become ``_``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("_", base)[:200] or "unknown"


async def read_upload(request: Request, config: EmulatorConfig) -> Upload:
    """Parse and check the body; raises :class:`Refusal` with Discord's status and code."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_request_size:
        raise Refusal(*TOO_LARGE)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await _read_capped(request, _MAX_JSON)
        return Upload(_json_object(body), [])
    if not content_type.startswith("multipart/form-data"):
        raise Refusal(400, 50035, "Invalid Form Body")

    async def counted() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > config.max_request_size:
                raise Refusal(*TOO_LARGE)
            yield chunk

    parser = MultiPartParser(request.headers, counted(), max_files=1000, max_fields=1000)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Refusal(400, 50035, "Invalid Form Body") from exc
    payload: dict[str, Any] = {}
    indexed: list[tuple[int, UploadFile]] = []
    for name, value in form.multi_items():
        if name == "payload_json" and isinstance(value, str):
            payload = _json_object(value.encode())
        elif isinstance(value, UploadFile) and (match := _FILE_FIELD.fullmatch(name)):
            indexed.append((int(match.group(1) or len(indexed)), value))
    indexed.sort(key=lambda item: item[0])
    upload = Upload(payload, [])
    try:
        if len(indexed) > config.max_attachments:
            raise Refusal(
                400,
                30015,
                f"Maximum number of attachments in a message reached ({config.max_attachments})",
            )
        names = _declared_names(payload)
        for index, part in indexed:
            if (part.size or 0) > config.max_file_size:
                raise Refusal(*TOO_LARGE)
            filename = safe_filename(names.get(index) or part.filename or "unknown")
            guessed = mimetypes.guess_type(filename)[0]
            upload.files.append((filename, guessed or "application/octet-stream", part))
    except Refusal:
        for _, part in indexed:
            await part.close()
        raise
    return upload


def _declared_names(payload: dict[str, Any]) -> dict[int, str]:
    """``payload_json.attachments[{id, filename}]`` may rename the ``files[id]`` parts."""
    names: dict[int, str] = {}
    for item in payload.get("attachments") or []:
        if isinstance(item, dict) and "filename" in item:
            try:
                names[int(item["id"])] = str(item["filename"])
            except (KeyError, TypeError, ValueError):
                continue
    return names


async def _read_capped(request: Request, cap: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise Refusal(*TOO_LARGE)
    return bytes(body)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError as exc:
        raise Refusal(400, 50109, "The request body contains invalid JSON.") from exc
    if not isinstance(value, dict):
        raise Refusal(400, 50109, "The request body contains invalid JSON.")
    return value
