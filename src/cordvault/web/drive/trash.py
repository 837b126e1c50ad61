"""``/api/drive/trash...`` (the caller's trash) and ``/api/drive/files/{id}/versions...``.

Rules and shapes: ``docs/drive-api.md`` (Trash, Versions). Deleting (``DELETE`` on a file or a
folder, :mod:`.files`) is what puts entries into the trash.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request, Response

from cordvault.drive import trash, versions
from cordvault.drive.api_models import (
    FileOut,
    RestoredOut,
    RestoreIn,
    TrashEntryOut,
    TrashPageOut,
    VersionOut,
)
from cordvault.drive.files import stat
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep
from cordvault.web.drive.responses import content_response

router = APIRouter(prefix="/api/drive", tags=["trash and versions"])


@router.get("/trash")
def list_trash(
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
    limit: int = Query(100, ge=1, le=trash.MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> TrashPageOut:
    """The caller's trash, newest first; ``purge_at``: when the collector removes it."""
    rows, total = trash.list_trash(db, actor, limit, offset)
    days = drive.settings.drive_trash_retention_days
    return TrashPageOut(
        items=[
            TrashEntryOut.of(r, r.trashed_at + timedelta(days=days) if days > 0 else None)
            for r in rows
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/trash/{entry_id}/restore")
def restore(
    entry_id: str, body: RestoreIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> RestoredOut:
    """Put an entry back where it was (``folder_id``: elsewhere); name clash per policy."""
    done = trash.restore(drive, db, actor, entry_id, body.on_conflict, body.folder_id)
    return RestoredOut(
        kind=done.kind, id=done.id, name=done.name, folder_id=done.folder_id, skipped=done.skipped
    )


@router.delete("/trash/{entry_id}")
def purge(entry_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep) -> dict[str, int]:
    """Delete one entry forever."""
    return {"purged_files": trash.purge(drive, db, actor, entry_id)}


@router.delete("/trash")
def empty(actor: CurrentUser, drive: DriveDep, db: SessionDep) -> dict[str, int]:
    """Empty the caller's trash."""
    return {"purged": trash.empty(drive, db, actor)}


@router.get("/files/{file_id}/versions")
def list_versions(file_id: str, actor: CurrentUser, db: SessionDep) -> list[VersionOut]:
    """Earlier contents of the file, newest first (read access)."""
    return [VersionOut.of(v) for v in versions.list_versions(db, actor, file_id)]


@router.get("/files/{file_id}/versions/{version_id}/content")
def version_content(
    request: Request,
    file_id: str,
    version_id: str,
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
) -> Response:
    """An earlier content, streamed with Range support (read access)."""
    dl = versions.open_version(drive, db, actor, file_id, version_id)
    return content_response(request, dl)


router.add_api_route(
    "/files/{file_id}/versions/{version_id}/content",
    version_content,
    methods=["HEAD"],
    include_in_schema=False,
)


@router.post("/files/{file_id}/versions/{version_id}/restore")
def restore_version(
    file_id: str, version_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> FileOut:
    """Make a version current again (write access); the current content becomes a version."""
    versions.restore_version(drive, db, actor, file_id, version_id)
    row, level = stat(db, actor, file_id)
    return FileOut.of(row, level)


@router.delete("/files/{file_id}/versions/{version_id}", status_code=204)
def delete_version(
    file_id: str, version_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> Response:
    """Drop one version for good (the file's owner)."""
    versions.delete_version(drive, db, actor, file_id, version_id)
    return Response(status_code=204)
