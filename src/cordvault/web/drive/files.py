"""``/api/drive/...`` for folders, files, shares and signed links (uploads: :mod:`.uploads`).

Content responses (downloads, zip) are built while the request's transaction is open and
streamed after it closed (see :mod:`.deps`). Access rules and error codes: ``docs/drive-api.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from cordvault.drive import downloads, files, folder_shares, folders, removal, signed_links
from cordvault.drive.api_models import (
    FileOut,
    FilePatch,
    FolderIn,
    FolderOut,
    FolderPatch,
    LinkIn,
    LinkOut,
    ListingOut,
    MergeIn,
    MergeOut,
    OwnerIn,
    ResolveOut,
    ShareIn,
    ShareOut,
    TypeUsageOut,
    UsageOut,
)
from cordvault.drive.models import Folder
from cordvault.drive.names import split_path
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep
from cordvault.web.drive.responses import content_response, link_out, zip_response

router = APIRouter(prefix="/api/drive", tags=["drive"])


# -- folders -------------------------------------------------------------------------------


@router.get("/resolve")
def resolve(actor: CurrentUser, db: SessionDep, path: str = Query(max_length=65536)) -> ResolveOut:
    """The folder or file at an absolute path."""
    found = folders.resolve(db, path)
    clean = "/" + "/".join(split_path(path))
    if isinstance(found, Folder):
        return ResolveOut(path=clean, folder=FolderOut.of(found))
    _row, level = files.stat(db, actor, found.id)
    return ResolveOut(path=clean, file=FileOut.of(found, level))


@router.post("/folders", status_code=201)
def create_folder(body: FolderIn, actor: CurrentUser, db: SessionDep) -> FolderOut:
    row = folders.create_folder(db, actor, body.parent_id, body.name, body.on_conflict)
    return FolderOut.of(row)


@router.post("/mkdir", status_code=201)
def make_path(actor: CurrentUser, db: SessionDep, path: str = Query(max_length=65536)) -> FolderOut:
    """Create a folder and any missing parents (``mkdir -p``)."""
    return FolderOut.of(folders.make_path(db, actor, path))


@router.get("/folders/{folder_id}")
def list_folder(
    folder_id: str,
    actor: CurrentUser,
    db: SessionDep,
    sort: str = Query("name"),
    order: str = Query("asc", pattern="^(asc|desc)$"),
    limit: int = Query(100, ge=1, le=folders.MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> ListingOut:
    """A page of the folder's entries: folders first, then files."""
    page = folders.list_children(
        db, actor, folder_id, sort=sort, desc=order == "desc", limit=limit, offset=offset
    )
    levels = files.share_levels(db, actor, page.files)
    path = folders.folder_path(db, page.folder)
    return ListingOut.of(page, levels, path=path, limit=limit, offset=offset)


@router.patch("/folders/{folder_id}")
def update_folder(
    folder_id: str, body: FolderPatch, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> FolderOut:
    """Rename and/or move (``overwrite`` on a clash with a folder merges into it); ``public``
    publishes the folder and everything below it to every signed-in user (owner)."""
    if body.public is not None:
        folder_shares.set_public(db, actor, folder_id, body.public)
    if body.name is None and body.parent_id is None:
        return FolderOut.of(folders.get_folder(db, folder_id))
    row = folders.update_folder(
        drive,
        db,
        actor,
        folder_id,
        name=body.name,
        parent_id=body.parent_id,
        on_conflict=body.on_conflict,
    )
    return FolderOut.of(row)


@router.delete("/folders/{folder_id}")
def delete_folder(
    folder_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> dict[str, int]:
    """Delete recursively: into the caller's trash (purged at once when the trash is off)."""
    return {"deleted_files": folders.delete_folder(drive, db, actor, folder_id)}


@router.post("/folders/{folder_id}/merge")
def merge(
    folder_id: str, body: MergeIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> MergeOut:
    rep = folders.merge(drive, db, actor, folder_id, body.into, body.on_conflict)
    return MergeOut(
        moved=rep.moved,
        skipped=rep.skipped,
        renamed=rep.renamed,
        overwritten=rep.overwritten,
    )


@router.get("/folders/{folder_id}/usage")
def usage(folder_id: str, _actor: CurrentUser, db: SessionDep) -> UsageOut:
    """Size of the folder tree by MIME major type and by MIME type."""
    u = folders.usage(db, folder_id)
    return UsageOut(
        files=u.files,
        size=u.size,
        by_type=[TypeUsageOut(type=t.type, count=t.count, size=t.size) for t in u.by_type],
        by_mime=[TypeUsageOut(type=t.type, count=t.count, size=t.size) for t in u.by_mime],
    )


@router.get("/folders/{folder_id}/zip")
def zip_folder(
    folder_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> StreamingResponse:
    """The folder tree as a streamed zip (Zip64 as needed); unreadable files are skipped."""
    return zip_response(downloads.zip_plan(drive, db, actor, folder_id))


@router.get("/zip")
def zip_selection(
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
    folder: Annotated[list[str] | None, Query()] = None,
    file: Annotated[list[str] | None, Query()] = None,
) -> StreamingResponse:
    """Selected folders (as trees) and files as one streamed zip (a browser's multi-select)."""
    return zip_response(downloads.selection_zip_plan(drive, db, actor, folder or [], file or []))


# -- files and shares ----------------------------------------------------------------------


@router.get("/files/{file_id}")
def stat(file_id: str, actor: CurrentUser, db: SessionDep) -> FileOut:
    row, level = files.stat(db, actor, file_id)
    return FileOut.of(row, level)


@router.patch("/files/{file_id}")
def update(
    file_id: str, body: FilePatch, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> FileOut:
    """Rename/move (owner or write share), publish (owner). ``skip`` changes nothing."""
    files.update_file(
        drive,
        db,
        actor,
        file_id,
        name=body.name,
        folder_id=body.folder_id,
        public=body.public,
        on_conflict=body.on_conflict,
    )
    row, level = files.stat(db, actor, file_id)
    return FileOut.of(row, level)


@router.delete("/files/{file_id}", status_code=204)
def delete(file_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep) -> Response:
    removal.delete_file(drive, db, actor, file_id)
    return Response(status_code=204)


@router.get("/files/{file_id}/content")
def content(
    request: Request,
    file_id: str,
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
    inline: bool = Query(False),
) -> Response:
    """The content: streamed, Range/If-Range/HEAD/416, multipart/byteranges."""
    dl = downloads.open_file(drive, db, actor, file_id)
    return content_response(request, dl, inline=inline)


# HEAD shares the handler; kept out of the schema so operation ids stay unique.
router.add_api_route("/files/{file_id}/content", content, methods=["HEAD"], include_in_schema=False)


@router.post("/files/{file_id}/owner")
def transfer(
    file_id: str, body: OwnerIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> FileOut:
    row = files.transfer_ownership(db, actor, file_id, body.user, drive)
    return FileOut.of(row, files.stat(db, actor, row.id)[1])


@router.get("/files/{file_id}/shares")
def list_shares(file_id: str, actor: CurrentUser, db: SessionDep) -> list[ShareOut]:
    return [ShareOut(user=u, access=a) for u, a in files.list_shares(db, actor, file_id)]


@router.put("/files/{file_id}/shares/{user_name}")
def share(
    file_id: str, user_name: str, body: ShareIn, actor: CurrentUser, db: SessionDep
) -> ShareOut:
    row = files.set_share(db, actor, file_id, user_name, body.access)
    return ShareOut(user=user_name, access=row.access)


@router.delete("/files/{file_id}/shares/{user_name}", status_code=204)
def unshare(file_id: str, user_name: str, actor: CurrentUser, db: SessionDep) -> Response:
    files.remove_share(db, actor, file_id, user_name)
    return Response(status_code=204)


@router.get("/shared")
def shared_with_me(
    actor: CurrentUser,
    db: SessionDep,
    limit: int = Query(100, ge=1, le=files.MAX_SHARED_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[FileOut]:
    """Files other users shared with the caller."""
    rows = files.shared_with(db, actor, limit, offset)
    levels = files.share_levels(db, actor, rows)
    return [FileOut.of(f, levels[f.id]) for f in rows]


# -- signed links --------------------------------------------------------------------------


@router.post("/files/{file_id}/links", status_code=201)
def create_link(
    request: Request,
    file_id: str,
    body: LinkIn,
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
) -> LinkOut:
    """A signed download link (no account needed to open it)."""
    issued = signed_links.create_link(drive, db, actor, file_id, body.expires_in)
    return link_out(drive, request, issued)


@router.get("/files/{file_id}/links")
def list_links(
    request: Request, file_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> list[LinkOut]:
    issued = signed_links.list_links(drive, db, actor, file_id)
    return [link_out(drive, request, i) for i in issued]


@router.delete("/files/{file_id}/links")
def revoke_links(file_id: str, actor: CurrentUser, db: SessionDep) -> dict[str, int]:
    return {"revoked": signed_links.revoke_links(db, actor, file_id)}


@router.delete("/links/{link_id}", status_code=204)
def revoke_link(link_id: str, actor: CurrentUser, db: SessionDep) -> Response:
    signed_links.revoke_link(db, actor, link_id)
    return Response(status_code=204)


@router.get("/dl/{token}")
def open_link(
    request: Request, token: str, drive: DriveDep, db: SessionDep, inline: bool = Query(False)
) -> Response:
    """Download through a signed link: no account, same Range support."""
    row = signed_links.resolve(drive, db, token)
    dl = downloads.prepare(drive, db, row)
    return content_response(request, dl, inline=inline)


router.add_api_route("/dl/{token}", open_link, methods=["HEAD"], include_in_schema=False)
