"""``/api/drive/uploads/...`` (resumable) and ``PUT /api/drive/upload`` (one request, streamed).

Chunk bodies, completing an upload and streamed uploads do store I/O, which never runs inside a
DB transaction: those routes take the caller from :data:`~.deps.SignedIn` (its transaction is
over before the route runs) and the services open their own short transactions. The async
routes run their DB work in the threadpool. Protocol: ``docs/drive-api.md`` (Uploads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import files, folders, uploads
from cordvault.drive.api_models import (
    ChunkOut,
    CompletedOut,
    CompleteIn,
    FileOut,
    UploadIn,
    UploadOut,
)
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import Folder
from cordvault.drive.names import OnConflict, split_path
from cordvault.web.drive.deps import (
    ClientDep,
    CurrentUser,
    DriveDep,
    SessionDep,
    SignedIn,
    request_actor,
    transaction,
)

router = APIRouter(prefix="/api/drive", tags=["uploads"])

# Body types clients send by default (curl --data-binary, generic HTTP libraries): they say
# nothing about the file, so the type is guessed from the name instead.
_GENERIC_BODY_TYPES = (None, "application/x-www-form-urlencoded", "application/octet-stream")


@dataclass(frozen=True)
class ChunkSender:
    """Who sends a chunk, and the largest chunk body their session accepts."""

    actor: Actor
    limit: int


def chunk_sender(
    upload_id: str, drive: DriveDep, client: ClientDep, request: Request
) -> ChunkSender:
    """The caller and the session's chunk size, in one short transaction over before the body
    is read (memory stays bounded per request; no transaction is held during store I/O)."""
    with transaction(drive) as db:
        actor = request_actor(drive, db, request, client)
        up, _received = uploads.status(db, actor, upload_id)
        return ChunkSender(actor, up.chunk_size)


@router.post("/uploads", status_code=201)
def create_upload(body: UploadIn, actor: CurrentUser, drive: DriveDep, db: SessionDep) -> UploadOut:
    """Open a resumable upload: send chunks in any order, then complete."""
    up = uploads.create_upload(
        drive,
        db,
        actor,
        folder_id=body.folder_id,
        name=body.name,
        size=body.size,
        sha256=body.sha256,
        mime_type=body.mime_type,
        on_conflict=body.on_conflict,
    )
    return UploadOut.of(up, [])


@router.get("/uploads/{upload_id}")
def upload_status(upload_id: str, actor: CurrentUser, db: SessionDep) -> UploadOut:
    """The session and the chunks already received (what a resuming client skips)."""
    up, received = uploads.status(db, actor, upload_id)
    return UploadOut.of(up, received)


@router.put("/uploads/{upload_id}/chunks/{index}")
async def put_chunk(
    request: Request,
    upload_id: str,
    index: int,
    sender: Annotated[ChunkSender, Depends(chunk_sender)],
    drive: DriveDep,
    chunk_sha256: Annotated[str | None, Header(alias="x-chunk-sha256")] = None,
) -> ChunkOut:
    """Store chunk ``index`` (raw body). Idempotent; safe to retry and to run in parallel."""
    data = await _read_bounded(request, sender.limit)
    stored = await run_in_threadpool(
        uploads.put_chunk, drive, sender.actor, upload_id, index, data, chunk_sha256
    )
    return ChunkOut(index=index, stored=stored)


@router.post("/uploads/{upload_id}/complete")
def complete(
    upload_id: str, actor: SignedIn, drive: DriveDep, body: CompleteIn | None = None
) -> CompletedOut:
    """Verify size and SHA-256 and make the file visible (409 when done already). The body
    (``{"sha256": ...}``) may be omitted when the digest was given at creation."""
    done = uploads.complete(drive, actor, upload_id, None if body is None else body.sha256)
    return _completed_out(drive, actor, done)


@router.delete("/uploads/{upload_id}", status_code=204)
def abort(upload_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep) -> Response:
    uploads.abort(drive, db, actor, upload_id)
    return Response(status_code=204)


@router.put("/upload", status_code=201)
async def stream_upload(
    request: Request,
    actor: SignedIn,
    drive: DriveDep,
    path: str | None = Query(None, max_length=65536),
    folder_id: str | None = Query(None),
    name: str | None = Query(None, max_length=4096),
    on_conflict: Annotated[OnConflict, Query()] = OnConflict.FAIL,
    content_type: Annotated[str | None, Header(alias="content-type")] = None,
    sha256: Annotated[str | None, Header(alias="x-content-sha256")] = None,
    content_length: Annotated[int | None, Header(alias="content-length", ge=0)] = None,
) -> CompletedOut:
    """One-request upload (``curl -T FILE URL?path=/dir/name``): streamed to the store."""
    target_folder, target_name = await run_in_threadpool(
        _stream_target, drive, path, folder_id, name
    )
    done = await uploads.stream_upload(
        drive,
        actor,
        folder_id=target_folder,
        name=target_name,
        data=request.stream(),
        mime_type=None if content_type in _GENERIC_BODY_TYPES else content_type,
        on_conflict=on_conflict,
        expected_sha256=sha256,
        # A declared length is checked against the quota before the body is read.
        expected_size=content_length,
    )
    return await run_in_threadpool(_completed_out, drive, actor, done)


def _stream_target(
    drive: DriveContext, path: str | None, folder_id: str | None, name: str | None
) -> tuple[str, str]:
    if path is not None:
        parts = split_path(path)
        if not parts:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "path must name a file")
        with transaction(drive) as db:
            parent = folders.resolve(db, "/".join(parts[:-1]))
            if not isinstance(parent, Folder):
                raise CordvaultError(ErrorCode.NOT_FOUND, "the parent folder does not exist")
            return parent.id, parts[-1]
    if name is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "give path, or folder_id and name")
    return folder_id or "root", name


def _completed_out(drive: DriveContext, actor: Actor, done: uploads.Completed) -> CompletedOut:
    with transaction(drive) as db:
        row, level = files.stat(db, actor, done.file.id)
        return CompletedOut(
            file=FileOut.of(row, level), skipped=done.skipped, overwritten=done.overwritten
        )


async def _read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (memory stays bounded)."""
    buf = bytearray()
    async for piece in request.stream():
        buf += piece
        if len(buf) > limit:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "chunk is larger than the upload's chunk size",
                http_status=413,
                details={"chunk_size": limit},
            )
    return bytes(buf)
