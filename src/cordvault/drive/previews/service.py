"""Make, serve and clean up thumbnails (two sizes: ``list`` and ``grid``).

The database is the queue, as for insights jobs: a previewable file (``image/*``,
``video/*``, ``application/pdf``) whose current ``content_version`` has no preview row is work
(:func:`repository.work`); a worker *claims* it by inserting or compare-and-setting its row to
``running`` with a lease, so workers of several API processes never make the same thumbnail
twice and a run whose process died is taken again when its lease expires (at most
:data:`MAX_ATTEMPTS` runs, then "no preview"). New uploads wake the workers at once
(:mod:`.queue`: threads here, or a Celery task for ``cordvault worker``); the queue's periodic
pass catches the rest.

One run (:func:`make`): the file's plaintext is decrypted into a temporary file inside
``DATA_DIR/tmp/previews`` (a 0700 directory; the file is deleted when the run ends, whatever
happens), :mod:`.render` runs on it in a child process under ``PREVIEW_MEMORY_BYTES``,
``PREVIEW_TIMEOUT_SECONDS`` and ``PREVIEW_MAX_PIXELS``, and its two JPEGs are encrypted and
stored through the chunk store as one content of their own (list bytes first, then grid): a
thumbnail is data about the file and reaches Discord only encrypted, like the file. The row
turns ``ready`` and ``thumbnail-ready`` is announced to the file's readers in the same
transaction. If the file was replaced or deleted meanwhile, the result is discarded.

Cleanup: a new content version makes the old preview stale (never served); the next run
queues its chunks for the collector. Rows whose file is gone are swept by :func:`sweep` (run
by the workers), which queues their chunks too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import private_dir
from cordvault.drive import access, content, events
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.downloads import prepare
from cordvault.drive.gc import schedule_content
from cordvault.drive.models import Chunk, DriveFile, utcnow
from cordvault.drive.previews import render
from cordvault.drive.previews import repository as prepo
from cordvault.drive.previews.models import NONE, READY, RUNNING, Preview
from cordvault.drive.streaming import ChunkReader

log = logging.getLogger(__name__)

SIZES = ("list", "grid")
MAX_ATTEMPTS = 3
MAX_OUTPUT_BYTES = 2 * 1024 * 1024
"""A rendered JPEG larger than this is refused (the renderer never makes one: belt and braces)."""


def kind_of(mime_type: str) -> str | None:
    """The renderer kind for a MIME type, or None when it has no preview."""
    if mime_type.startswith("image/"):
        return "image"
    if mime_type.startswith("video/"):
        return "video"
    if mime_type == "application/pdf":
        return "pdf"
    return None


# -- claiming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    file_id: str
    content_version: int
    kind: str


def _lease(ctx: DriveContext) -> timedelta:
    return timedelta(seconds=ctx.settings.preview_timeout_seconds * 2 + 60)


def claim(ctx: DriveContext, file_id: str) -> Job | None:
    """Take ``file_id``'s thumbnail run, or None (not previewable, done, or taken)."""
    now = utcnow()
    try:
        with ctx.sessions() as db, db.begin():
            row = repo.file(db, file_id)
            kind = kind_of(row.mime_type) if row is not None else None
            if row is None or kind is None:
                return None
            existing = prepo.preview(db, file_id, for_update=True)
            if existing is None:
                db.add(
                    Preview(
                        file_id=file_id,
                        content_version=row.content_version,
                        state=RUNNING,
                        attempts=1,
                        lease_until=now + _lease(ctx),
                        list_bytes=0,
                        grid_bytes=0,
                        updated_at=now,
                    )
                )
                db.flush()
                return Job(file_id, row.content_version, kind)
            same = existing.content_version == row.content_version
            if same and existing.state != RUNNING:
                return None
            if same and existing.lease_until is not None and existing.lease_until >= now:
                return None
            if same and existing.attempts >= MAX_ATTEMPTS:
                existing.state, existing.lease_until = NONE, None
                return None
            if existing.content_id is not None:  # a stale preview: collect its chunks
                schedule_content(ctx, db, existing.content_id)
            if not prepo.claim(db, existing, row.content_version, now + _lease(ctx), now):
                return None
            return Job(file_id, row.content_version, kind)
    except IntegrityError:  # another worker inserted the row first
        return None


# -- one run -------------------------------------------------------------------------------


def _scratch(ctx: DriveContext) -> Path:
    tmp = private_dir(ctx.settings.data_dir / "tmp", what="temporary directory")
    return private_dir(tmp / "previews", what="preview scratch directory")


def _decrypt_to(ctx: DriveContext, job: Job, target: Path) -> bool:
    """Write the file's plaintext to ``target``; False when it changed, vanished or is too
    large to preview."""
    with ctx.sessions() as db:
        row = repo.file(db, job.file_id)
        if row is None or row.content_version != job.content_version:
            return False
        if row.size > ctx.settings.preview_max_source_bytes:
            return False
        download = prepare(ctx, db, row)
    with target.open("wb") as out:
        for piece in download.open_range(0, download.size):
            out.write(piece)
    return True


def _render(ctx: DriveContext, kind: str, source: Path, outdir: Path) -> tuple[bytes, bytes] | None:
    """Run the renderer child; the two JPEGs, or None for "no preview"."""
    s = ctx.settings
    cpu = max(1, int(s.preview_timeout_seconds) + 1)
    argv = [sys.executable, "-m", render.__name__, kind, str(source), str(outdir)]
    argv += [str(s.preview_max_pixels), str(s.preview_memory_bytes), str(cpu)]
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter, our module, our arguments
            argv,
            capture_output=True,
            timeout=s.preview_timeout_seconds,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        log.info("thumbnail renderer timed out (%s)", kind)
        return None
    if done.returncode != 0:
        # stderr says why (decoder error names, no content): keep it at debug level.
        log.info("no thumbnail (%s): renderer exit status %d", kind, done.returncode)
        log.debug("renderer said: %s", done.stderr[-500:].decode("utf-8", "replace"))
        return None
    out: list[bytes] = []
    for size in SIZES:
        path = outdir / f"{size}.jpg"
        if not path.is_file() or not 0 < path.stat().st_size <= MAX_OUTPUT_BYTES:
            return None
        out.append(path.read_bytes())
    return out[0], out[1]


def _give_up(ctx: DriveContext, job: Job) -> None:
    with ctx.sessions() as db, db.begin():
        row = prepo.preview(db, job.file_id, for_update=True)
        if row is not None and row.state == RUNNING and row.content_version == job.content_version:
            row.state, row.lease_until, row.updated_at = NONE, None, utcnow()


def _store(ctx: DriveContext, job: Job, small: bytes, large: bytes) -> bool:
    """Encrypt and store the thumbnails, then publish them; False if the file moved on."""
    new = content.new_content(ctx)
    result = content.writer(ctx, new.content_id, new.file_key, ctx.chunk_size).write_stream(
        [small, large]
    )
    try:
        with ctx.sessions() as db, db.begin():
            row = repo.file(db, job.file_id)
            preview = prepo.preview(db, job.file_id, for_update=True)
            if (
                row is None
                or preview is None
                or row.content_version != job.content_version
                or preview.content_version != job.content_version
                or preview.state != RUNNING
            ):
                repo.queue_garbage(db, [c.locator for c in result.chunks], utcnow())
                return False
            db.add_all(
                Chunk(
                    content_id=new.content_id,
                    idx=c.index,
                    locator=c.locator,
                    plain_size=c.plain_size,
                    plain_sha256="",
                )
                for c in result.chunks
            )
            preview.state, preview.lease_until = READY, None
            preview.content_id, preview.wrapped_key = new.content_id, new.wrapped_key
            preview.chunk_size = ctx.chunk_size
            preview.list_bytes, preview.grid_bytes = len(small), len(large)
            preview.etag = result.sha256[:32]
            preview.updated_at = utcnow()
            events.thumbnail_ready(db, row, SIZES)
            return True
    except BaseException:
        with ctx.sessions() as db, db.begin():
            repo.queue_garbage(db, [c.locator for c in result.chunks], utcnow())
        raise


def make(ctx: DriveContext, job: Job) -> str:
    """Run one claimed job: ``ready``, ``none`` (no preview) or ``stale`` (the file changed).

    Storage or database trouble raises: the row stays ``running`` and is retried after its
    lease (at most :data:`MAX_ATTEMPTS` runs)."""
    scratch = _scratch(ctx)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="run-") as tmp:
        source = Path(tmp) / "source"
        if not _decrypt_to(ctx, job, source):
            _give_up(ctx, job)
            return NONE
        outdir = Path(tmp) / "out"
        outdir.mkdir(mode=0o700)
        rendered = _render(ctx, job.kind, source, outdir)
        source.unlink(missing_ok=True)  # the plaintext copy lives no longer than the render
    if rendered is None:
        _give_up(ctx, job)
        return NONE
    return READY if _store(ctx, job, *rendered) else "stale"


def run_pending(ctx: DriveContext, *, limit: int = 20) -> dict[str, int]:
    """Claim and make up to ``limit`` thumbnails now (the workers and the CLI call this)."""
    counts: dict[str, int] = {}
    with ctx.sessions() as db:
        ids = prepo.work(db, utcnow(), limit)
    for file_id in ids:
        job = claim(ctx, file_id)
        if job is None:
            continue
        outcome = make(ctx, job)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def make_missing(ctx: DriveContext, *, retry: bool = False) -> dict[str, int]:
    """Make every missing thumbnail now (``cordvault drive thumbnails``); ``retry`` first
    forgets "no preview" verdicts so those files are tried again. Stops when a round finds
    nothing it can claim (files another process is working on are left to it)."""
    if retry:
        with ctx.sessions() as db, db.begin():
            prepo.reset_none(db)
    total: dict[str, int] = {"swept": sweep(ctx)}
    while done := run_pending(ctx, limit=50):
        for outcome, n in done.items():
            total[outcome] = total.get(outcome, 0) + n
    return total


def sweep(ctx: DriveContext, *, limit: int = 500) -> int:
    """Forget previews of deleted files; their chunks go to the collector. Returns how many."""
    with ctx.sessions() as db, db.begin():
        gone = prepo.orphans(db, limit)
        for row in gone:
            if row.content_id is not None:
                schedule_content(ctx, db, row.content_id)
        prepo.forget(db, [row.file_id for row in gone])
    return len(gone)


# -- serving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thumbnail:
    etag: str
    length: int
    content_version: int
    chunks: Iterator[bytes | bytearray]


def open_thumbnail(
    ctx: DriveContext, db: Session, actor: Actor, file_id: str, size: str
) -> Thumbnail:
    """The ``size`` thumbnail of a file the actor may read (``NO_THUMBNAIL`` when none exists
    for its current content). The bytes are decrypted lazily, after the transaction."""
    if size not in SIZES:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "size must be 'list' or 'grid'")
    row = repo.file(db, file_id)
    if row is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    access.require_file(db, actor, row, Access.READ)
    preview = prepo.preview(db, file_id)
    if (
        preview is None
        or preview.state != READY
        or preview.content_version != row.content_version
        or preview.content_id is None
        or preview.wrapped_key is None
    ):
        raise CordvaultError(ErrorCode.NO_THUMBNAIL, "this file has no thumbnail (yet)")
    start, end = (
        (0, preview.list_bytes)
        if size == "list"
        else (preview.list_bytes, preview.list_bytes + preview.grid_bytes)
    )
    rows = repo.chunks(db, preview.content_id)
    key = content.file_key(ctx, preview.content_id, preview.wrapped_key)
    content_id = preview.content_id

    def chunks() -> Iterator[bytes | bytearray]:
        with contextlib.closing(
            ChunkReader(ctx.store, key, content_id, content.CRYPTO_VERSION, content.refs(rows))
        ) as reader:
            yield from reader.iter_range(start, end)

    tag = hashlib.sha256(f"{preview.etag}:{size}".encode()).hexdigest()[:32]
    return Thumbnail(
        etag=f'"{tag}"', length=end - start, content_version=row.content_version, chunks=chunks()
    )


def has_thumbnail(db: Session, row: DriveFile) -> bool:
    preview = prepo.preview(db, row.id)
    return (
        preview is not None
        and preview.state == READY
        and preview.content_version == row.content_version
    )
