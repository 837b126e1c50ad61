"""Uploads: resumable sessions with chunks in any order, and a one-request streaming upload.

Resumable protocol (state lives in the DB, so any API process can take any request and a
restart loses nothing):

1. :func:`create_upload` declares folder, name, size and, optionally, the SHA-256 (a client
   that hashes while it sends gives it at step 3 instead); the answer gives the
   ``chunk_size`` and ``chunk_count``. Chunk ``i`` holds plaintext bytes
   ``[i*chunk_size, min(size, (i+1)*chunk_size))`` (an empty file has one empty chunk).
2. :func:`put_chunk` stores chunk ``i`` (any order, concurrently, retried at will): the same
   bytes again are a no-op; different bytes replace the earlier ones (the old chunk is
   collected). A wrong length is ``INVALID_INPUT``; an optional per-chunk SHA-256 is checked.
3. :func:`complete` checks every chunk is there (``UPLOAD_INCOMPLETE`` lists the missing ones),
   reads the content back through decryption to verify the declared SHA-256
   (``CHECKSUM_MISMATCH``; declared at step 1 or 3, and at least once), then makes the file
   visible in one transaction. Completing twice is ``CONFLICT`` naming the file already made.

Until step 3 commits no file row points at the chunks: a half file is never visible. Store I/O
never runs inside a DB transaction, so these functions open their own short transactions
(``ctx.sessions``) around it instead of using the request's session.

Streamed uploads come in two flavours sharing one commit (:func:`_commit_stream`): async
(:func:`stream_upload`, the REST ``PUT``) and sync (:func:`write_upload`, WebDAV's ``PUT`` in a
WSGI thread). Size: a little past ~450 lines because both protocols share the placement and
commit rules kept here; splitting them would export those internals.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, content, events, quotas, versions
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.folders import get_folder, new_id
from cordvault.drive.gc import schedule_content
from cordvault.drive.models import Chunk, DriveFile, Upload, utcnow
from cordvault.drive.names import OnConflict, validate_name
from cordvault.drive.placement import conflict, place, unique_names
from cordvault.drive.streaming import WriteResult

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_FILE_SIZE = 1 << 50  # 1 PiB: a sanity bound on declared sizes, not a quota


def _check_sha256(value: str, what: str = "sha256") -> str:
    value = (value or "").strip().lower()
    if not _SHA256.match(value):
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"{what} must be 64 hex digits")
    return value


def chunk_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def expected_chunk_size(up: Upload, index: int) -> int:
    if index < up.chunk_count - 1:
        return up.chunk_size
    return up.size - (up.chunk_count - 1) * up.chunk_size


@dataclass(frozen=True)
class Completed:
    """The file an upload produced (or the existing one kept under ``skip``)."""

    file: DriveFile
    skipped: bool = False
    overwritten: bool = False


def _precheck_target(
    db: Session, actor: Actor, folder_id: str, name: str, policy: OnConflict
) -> None:
    """Fail fast (before any byte is sent) on a missing folder, no permission or a clash."""
    folder = get_folder(db, folder_id)
    spot = place(db, folder.id, name, policy)
    if spot.existing_folder is not None and not spot.skip:
        raise conflict("a folder with this name already exists in the folder")
    if spot.existing_file is not None and policy is OnConflict.OVERWRITE:
        access.require_file(db, actor, spot.existing_file, Access.WRITE)
    else:
        access.require_add_to(db, actor, folder)


def create_upload(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    *,
    folder_id: str,
    name: str,
    size: int,
    sha256: str | None = None,
    mime_type: str | None = None,
    on_conflict: OnConflict = OnConflict.FAIL,
) -> Upload:
    """Open a resumable upload session (see the module docstring). Without ``sha256`` the
    session stores ``""`` (not declared yet) and :func:`complete` must be given it."""
    name = validate_name(name)
    if not 0 <= size <= MAX_FILE_SIZE:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "size must be between 0 and 1 PiB")
    sha256 = "" if sha256 is None else _check_sha256(sha256)
    _precheck_target(db, actor, folder_id, name, on_conflict)
    # The session reserves its declared size: refused here, before any chunk is sent.
    quotas.reserve(ctx, db, actor.id, size)
    new = content.new_content(ctx)
    now = utcnow()
    up = Upload(
        id=new.content_id,
        owner_id=actor.id,
        folder_id=folder_id,
        name=name,
        size=size,
        sha256=sha256,
        mime_type=content.guess_mime(name, mime_type),
        on_conflict=str(on_conflict),
        chunk_size=ctx.chunk_size,
        chunk_count=chunk_count(size, ctx.chunk_size),
        wrapped_key=new.wrapped_key,
        state="open",
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.drive_upload_ttl_seconds),
    )
    repo.add(db, up)
    return up


def get_upload(db: Session, actor: Actor, upload_id: str, *, for_update: bool = False) -> Upload:
    up = repo.upload(db, upload_id, for_update=for_update)
    if up is None or up.owner_id != actor.id:
        # Someone else's session is as good as absent: its id reveals nothing.
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such upload")
    return up


def status(db: Session, actor: Actor, upload_id: str) -> tuple[Upload, list[int]]:
    """The session and the chunk indexes already stored (what a resuming client skips)."""
    up = get_upload(db, actor, upload_id)
    return up, repo.chunk_indexes(db, up.id)


def _require_open(up: Upload) -> None:
    if up.state == "complete":
        raise CordvaultError(
            ErrorCode.CONFLICT, "upload already completed", details={"file_id": up.file_id}
        )
    if up.state != "open":
        raise CordvaultError(ErrorCode.CONFLICT, "upload was aborted or has expired")


def put_chunk(
    ctx: DriveContext,
    actor: Actor,
    upload_id: str,
    index: int,
    data: bytes,
    chunk_sha256: str | None = None,
) -> bool:
    """Store chunk ``index``; returns False when the same bytes were already stored."""
    digest = hashlib.sha256(data).hexdigest()
    if chunk_sha256 is not None and _check_sha256(chunk_sha256, "chunk sha256") != digest:
        raise CordvaultError(ErrorCode.CHECKSUM_MISMATCH, "chunk does not match its sha256")
    with ctx.sessions() as db:
        up = get_upload(db, actor, upload_id)
        _require_open(up)
        if not 0 <= index < up.chunk_count:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                f"chunk index must be 0..{up.chunk_count - 1}",
                details={"chunk_count": up.chunk_count},
            )
        want = expected_chunk_size(up, index)
        if len(data) != want:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                f"chunk {index} must be {want} bytes, got {len(data)}",
                details={"expected": want, "received": len(data)},
            )
        existing = repo.chunk(db, up.id, index)
        if existing is not None and existing.plain_sha256 == digest:
            return False
        key = content.file_key(ctx, up.id, up.wrapped_key)
        chunk_size, is_last = up.chunk_size, index == up.chunk_count - 1
    ref = content.writer(ctx, upload_id, key, chunk_size).put_chunk(index, is_last, data)
    for _attempt in range(3):
        try:
            late: CordvaultError | None = None
            now = utcnow()
            grace_end = now + timedelta(seconds=ctx.settings.drive_gc_grace_seconds)
            with ctx.sessions() as db, db.begin():
                up = get_upload(db, actor, upload_id, for_update=True)
                try:
                    _require_open(up)
                except CordvaultError as exc:
                    # Completed/aborted while we stored: our chunk is nobody's, collect it.
                    repo.queue_garbage(db, [ref.locator], utcnow())
                    late = exc
                if not late:
                    # Activity keeps a slow upload of a huge file alive.
                    up.expires_at = now + timedelta(seconds=ctx.settings.drive_upload_ttl_seconds)
                old = None if late else repo.chunk(db, up.id, index)
                if late:
                    pass
                elif old is not None:
                    # A concurrent or earlier attempt stored this index: ours replaces it. The
                    # old chunk waits out the grace period: a completion may be reading it.
                    repo.queue_garbage(db, [old.locator], grace_end)
                    old.locator, old.plain_size, old.plain_sha256 = ref.locator, len(data), digest
                else:
                    db.add(
                        Chunk(
                            content_id=up.id,
                            idx=index,
                            locator=ref.locator,
                            plain_size=len(data),
                            plain_sha256=digest,
                        )
                    )
                if not late:
                    received = len(repo.chunk_indexes(db, up.id))
                    events.upload_progress(db, up.owner_id, up.id, index, received, up.chunk_count)
            if late:
                raise late
            return True
        except IntegrityError:
            continue  # two first attempts of one index raced on the insert: retry as update
    raise CordvaultError(ErrorCode.CONFLICT, "chunk is being uploaded concurrently; retry")


def _verify_content(
    ctx: DriveContext, up_id: str, wrapped: bytes, rows: list[Chunk], size: int, sha256: str
) -> None:
    """Read the content back through decryption and compare its SHA-256 (a bad chunk or a
    wrong declaration is ``CHECKSUM_MISMATCH``; tampering is ``INTEGRITY_ERROR``)."""
    digest = hashlib.sha256()
    with content.reader(ctx, up_id, wrapped, rows) as rd:
        for piece in rd.iter_range(0, size):
            digest.update(piece)
    if digest.hexdigest() != sha256:
        raise CordvaultError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the uploaded content does not match the declared sha256; re-send the chunks or abort",
        )


def _declared_sha256(up: Upload, sha256: str | None) -> str:
    """The digest to verify against: the one given at creation and/or now (both must agree,
    at least one is needed)."""
    given = None if sha256 is None else _check_sha256(sha256)
    if given is None:
        if not up.sha256:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "sha256 is required to complete: it was not given when the upload was opened",
            )
        return up.sha256
    if up.sha256 and up.sha256 != given:
        raise CordvaultError(
            ErrorCode.CHECKSUM_MISMATCH,
            "sha256 differs from the one declared when the upload was opened",
        )
    return given


def complete(
    ctx: DriveContext, actor: Actor, upload_id: str, sha256: str | None = None
) -> Completed:
    """Finish a session (see the module docstring). ``sha256`` is the whole content's digest
    when the session was opened without one (optional otherwise, and then must agree)."""
    with ctx.sessions() as db:
        up = get_upload(db, actor, upload_id)
        _require_open(up)
        sha = _declared_sha256(up, sha256)
        rows = repo.chunks(db, up.id)
        have = {r.idx for r in rows}
        missing = [i for i in range(up.chunk_count) if i not in have]
        if missing:
            raise CordvaultError(
                ErrorCode.UPLOAD_INCOMPLETE,
                f"{len(missing)} chunk(s) missing",
                details={"missing": missing[:1000], "missing_count": len(missing)},
            )
        if sum(r.plain_size for r in rows) != up.size:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "chunk sizes do not add up to the size")
        snapshot = [(r.idx, r.locator) for r in rows]
        wrapped, size = up.wrapped_key, up.size
    _verify_content(ctx, upload_id, wrapped, rows, size, sha)
    with ctx.sessions() as db, db.begin():
        up = get_upload(db, actor, upload_id, for_update=True)
        _require_open(up)
        if [(r.idx, r.locator) for r in repo.chunks(db, up.id)] != snapshot:
            raise CordvaultError(ErrorCode.CONFLICT, "chunks changed while completing; retry")
        done = finalize(
            ctx,
            db,
            actor,
            folder_id=up.folder_id,
            name=up.name,
            on_conflict=OnConflict(up.on_conflict),
            content_id=up.id,
            wrapped_key=up.wrapped_key,
            chunk_size=up.chunk_size,
            size=up.size,
            sha256=sha,
            mime_type=up.mime_type,
        )
        up.sha256 = sha
        up.state, up.file_id, up.expires_at = "complete", done.file.id, utcnow()
        events.upload_finished(db, up.owner_id, up.id, done.file.id)
    return done


def abort(ctx: DriveContext, db: Session, actor: Actor, upload_id: str) -> None:
    """Abandon a session; its chunks are collected. A completed session cannot be aborted."""
    up = get_upload(db, actor, upload_id, for_update=True)
    _require_open(up)
    schedule_content(ctx, db, up.id)
    up.state, up.expires_at = "aborted", utcnow()


def finalize(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    *,
    folder_id: str,
    name: str,
    on_conflict: OnConflict,
    content_id: str,
    wrapped_key: bytes,
    chunk_size: int,
    size: int,
    sha256: str,
    mime_type: str,
) -> Completed:
    """Make a fully stored content visible as a file, applying the overwrite policy. Must run
    in the caller's transaction; under ``skip`` the content is queued for collection."""
    folder = get_folder(db, folder_id)
    spot = place(db, folder.id, name, on_conflict)
    if spot.existing_folder is not None and not spot.skip:
        raise conflict("a folder with this name already exists in the folder")
    now = utcnow()
    if spot.skip:
        schedule_content(ctx, db, content_id)
        if spot.existing_file is None:
            raise conflict("a folder with this name already exists in the folder")
        return Completed(spot.existing_file, skipped=True)
    if spot.existing_file is not None:
        row = repo.file(db, spot.existing_file.id, for_update=True)
        assert row is not None
        access.require_file(db, actor, row, Access.WRITE)
        versions.keep_previous(ctx, db, row)  # the old content stays as a version
        row.content_id, row.wrapped_key, row.chunk_size = content_id, wrapped_key, chunk_size
        row.size, row.sha256, row.mime_type = size, sha256, mime_type
        row.content_version += 1
        row.updated_at = now
        db.flush()
        events.file_changed(db, row, "modify", "content")
        return Completed(row, overwritten=True)
    access.require_add_to(db, actor, folder)
    row = DriveFile(
        id=new_id(),
        folder_id=folder.id,
        owner_id=actor.id,
        name=spot.name,
        size=size,
        sha256=sha256,
        mime_type=mime_type,
        public=False,
        content_id=content_id,
        content_version=1,
        wrapped_key=wrapped_key,
        chunk_size=chunk_size,
        created_at=now,
        updated_at=now,
    )
    with unique_names(db):
        db.add(row)
    events.file_changed(db, row, "add", "created")
    return Completed(row)


async def stream_upload(
    ctx: DriveContext,
    actor: Actor,
    *,
    folder_id: str,
    name: str,
    data: AsyncIterable[bytes],
    mime_type: str | None = None,
    on_conflict: OnConflict = OnConflict.FAIL,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
) -> Completed:
    """One-request upload of a byte stream of unknown length (``curl -T``).

    Checks run before the body is read (a known length is reserved against the quota whole);
    the stream is split, encrypted and stored as it arrives (bounded memory, backpressure on
    the client), reserving quota ahead of the bytes stored. A failure, a disconnect or a
    mismatching ``expected_sha256``/``expected_size`` deletes what was stored.
    """
    name = validate_name(name)
    if expected_sha256 is not None:
        expected_sha256 = _check_sha256(expected_sha256)
    new = content.new_content(ctx)
    target = _StreamTarget(folder_id, name, content.guess_mime(name, mime_type), on_conflict)
    meter = await anyio.to_thread.run_sync(_open_stream, ctx, actor, new, target, expected_size)

    async def metered() -> AsyncIterator[bytes]:
        received = 0
        async for piece in data:
            received += len(piece)
            if received > meter.reserved:  # one short transaction per chunk, not per piece
                await anyio.to_thread.run_sync(meter.cover, received)
            yield piece

    writer = content.writer(ctx, new.content_id, new.file_key, ctx.chunk_size)
    try:
        result = await writer.awrite_stream(metered())
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_release_quietly, ctx, new.content_id)
        raise
    return await anyio.to_thread.run_sync(
        lambda: _commit_stream(ctx, actor, new, result, target, expected_size, expected_sha256)
    )


def write_upload(
    ctx: DriveContext,
    actor: Actor,
    *,
    folder_id: str,
    name: str,
    data: Iterable[bytes | bytearray],
    mime_type: str | None = None,
    on_conflict: OnConflict = OnConflict.FAIL,
) -> Completed:
    """:func:`stream_upload` for a synchronous byte stream (a WebDAV ``PUT`` runs in a WSGI
    thread): the same checks first, the same quota reservation ahead of the bytes, the same
    bounded streaming into the chunk writer, the same commit; a failure deletes what was
    stored."""
    name = validate_name(name)
    new = content.new_content(ctx)
    target = _StreamTarget(folder_id, name, content.guess_mime(name, mime_type), on_conflict)
    meter = _open_stream(ctx, actor, new, target, None)

    def metered() -> Iterator[bytes | bytearray]:
        received = 0
        for piece in data:
            received += len(piece)
            if received > meter.reserved:
                meter.cover(received)
            yield piece

    writer = content.writer(ctx, new.content_id, new.file_key, ctx.chunk_size)
    try:
        result = writer.write_stream(metered())
    except BaseException:
        _release_quietly(ctx, new.content_id)
        raise
    return _commit_stream(ctx, actor, new, result, target, None, None)


@dataclass(frozen=True)
class _StreamTarget:
    folder_id: str
    name: str
    mime_type: str
    on_conflict: OnConflict


def _open_stream(
    ctx: DriveContext,
    actor: Actor,
    new: content.NewContent,
    target: _StreamTarget,
    expected_size: int | None,
) -> quotas.StreamReservation:
    """Check the target, then record the stream as an upload row in state ``streaming``: its
    ``size`` is the quota reserved so far (a known length is reserved whole, at once)."""
    meter = quotas.StreamReservation(ctx, actor.id, new.content_id, ctx.chunk_size)
    with ctx.sessions() as db, db.begin():
        _precheck_target(db, actor, target.folder_id, target.name, target.on_conflict)
        if expected_size is not None:
            quotas.reserve(ctx, db, actor.id, expected_size)
        now = utcnow()
        repo.add(
            db,
            Upload(
                id=new.content_id,
                owner_id=actor.id,
                folder_id=target.folder_id,
                name=target.name,
                size=expected_size or 0,
                sha256="",
                mime_type=target.mime_type,
                on_conflict=str(target.on_conflict),
                chunk_size=ctx.chunk_size,
                chunk_count=0,
                wrapped_key=new.wrapped_key,
                state="streaming",
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.drive_upload_ttl_seconds),
            ),
        )
    meter.reserved = expected_size or 0
    return meter


def _release(db: Session, content_id: str, state: str) -> None:
    """End a stream's reservation: its upload row becomes ``complete`` or ``aborted``."""
    row = repo.upload(db, content_id, for_update=True)
    if row is not None:
        row.state, row.expires_at = state, utcnow()


def _commit_stream(
    ctx: DriveContext,
    actor: Actor,
    new: content.NewContent,
    result: WriteResult,
    target: _StreamTarget,
    expected_size: int | None,
    expected_sha256: str | None,
) -> Completed:
    """Record a streamed content's chunks and make it a file, in one transaction (its quota
    reservation becomes the file, atomically); on any failure the stored chunks are queued
    for collection and the reservation is released."""
    rows = [
        Chunk(
            content_id=new.content_id,
            idx=r.index,
            locator=r.locator,
            plain_size=r.plain_size,
            plain_sha256="",
        )
        for r in result.chunks
    ]
    try:
        if expected_size is not None and result.size != expected_size:
            raise CordvaultError(
                ErrorCode.CHECKSUM_MISMATCH, "received size differs from the declared size"
            )
        if expected_sha256 is not None and result.sha256 != expected_sha256:
            raise CordvaultError(ErrorCode.CHECKSUM_MISMATCH, "content does not match sha256")
        with ctx.sessions() as db, db.begin():
            db.add_all(rows)
            _release(db, new.content_id, "complete")
            return finalize(
                ctx,
                db,
                actor,
                folder_id=target.folder_id,
                name=target.name,
                on_conflict=target.on_conflict,
                content_id=new.content_id,
                wrapped_key=new.wrapped_key,
                chunk_size=ctx.chunk_size,
                size=result.size,
                sha256=result.sha256,
                mime_type=target.mime_type,
            )
    except BaseException:
        with ctx.sessions() as db, db.begin():
            repo.queue_garbage(db, [r.locator for r in result.chunks], utcnow())
            _release(db, new.content_id, "aborted")
        raise


def _release_quietly(ctx: DriveContext, content_id: str) -> None:
    """Drop a failed stream's reservation (the collector expires it if this fails too)."""
    try:
        with ctx.sessions() as db, db.begin():
            _release(db, content_id, "aborted")
    except Exception as exc:  # the upload's own error is the one to report
        log.warning("could not release a failed upload's reservation: %s", type(exc).__name__)
