"""Folder shares, public folders and folder links: ``/api/drive/folders/{id}/shares...``,
``/api/drive/folders/{id}/links``, ``/api/drive/folder-links/{id}``, ``/api/drive/shared/folders``
and the account-less ``/api/drive/fl/{token}...`` (listing, zip, file download).

Publishing a folder is ``PATCH /api/drive/folders/{id} {public}`` (:mod:`.files`). Rules and
shapes: ``docs/drive-api.md`` (Folder sharing).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from cordvault.drive import downloads, folder_links, folder_shares, folders
from cordvault.drive.access import file_levels
from cordvault.drive.api_models import (
    FolderOut,
    FolderShareOut,
    LinkIn,
    LinkOut,
    ListingOut,
    SharedFolderOut,
    ShareIn,
)
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep
from cordvault.web.drive.responses import content_response, link_out, zip_response

router = APIRouter(prefix="/api/drive", tags=["folder sharing"])


@router.get("/folders/{folder_id}/shares")
def list_shares(folder_id: str, actor: CurrentUser, db: SessionDep) -> list[FolderShareOut]:
    return [
        FolderShareOut(user=u, access=a) for u, a in folder_shares.list_shares(db, actor, folder_id)
    ]


@router.put("/folders/{folder_id}/shares/{user_name}")
def share(
    folder_id: str, user_name: str, body: ShareIn, actor: CurrentUser, db: SessionDep
) -> FolderShareOut:
    """Share the folder and everything below it (read or write); replaces a share."""
    row = folder_shares.set_share(db, actor, folder_id, user_name, body.access)
    return FolderShareOut(user=user_name, access=row.access)


@router.delete("/folders/{folder_id}/shares/{user_name}", status_code=204)
def unshare(folder_id: str, user_name: str, actor: CurrentUser, db: SessionDep) -> Response:
    folder_shares.remove_share(db, actor, folder_id, user_name)
    return Response(status_code=204)


@router.get("/shared/folders")
def shared_folders(
    actor: CurrentUser,
    db: SessionDep,
    limit: int = Query(100, ge=1, le=folder_shares.MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[SharedFolderOut]:
    """Folders other users shared with the caller."""
    return [
        SharedFolderOut(folder=FolderOut.of(f), access=level)
        for f, level in folder_shares.shared_with(db, actor, limit, offset)
    ]


@router.post("/folders/{folder_id}/links", status_code=201)
def create_link(
    request: Request,
    folder_id: str,
    body: LinkIn,
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
) -> LinkOut:
    """A signed link to the folder: listing, zip and files, no account needed."""
    issued = folder_links.create_link(drive, db, actor, folder_id, body.expires_in)
    return link_out(drive, request, issued)


@router.get("/folders/{folder_id}/links")
def list_links(
    request: Request, folder_id: str, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> list[LinkOut]:
    return [
        link_out(drive, request, i) for i in folder_links.list_links(drive, db, actor, folder_id)
    ]


@router.delete("/folder-links/{link_id}", status_code=204)
def revoke_link(link_id: str, actor: CurrentUser, db: SessionDep) -> Response:
    folder_links.revoke_link(db, actor, link_id)
    return Response(status_code=204)


def _wants_page(request: Request) -> bool:
    """A browser navigating (it asks for HTML and not JSON), not a script or the CLI."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get("/fl/{token}", response_model=ListingOut)
def open_listing(
    request: Request,
    token: str,
    drive: DriveDep,
    db: SessionDep,
    path: str = Query("", max_length=65536),
    limit: int = Query(100, ge=1, le=folders.MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> ListingOut | Response:
    """A page of the linked folder (or of ``path`` below it), as the link's creator sees it;
    ``path`` in the answer is relative to the linked folder. A browser navigating to it (it
    asks for HTML, not JSON) is sent to the link's page ``/fl/{token}``."""
    if _wants_page(request):
        query = f"?path={quote(path)}" if path.strip("/") else ""
        return RedirectResponse(f"/fl/{quote(token, safe='')}{query}", status_code=303)
    opened = folder_links.resolve(drive, db, token)
    target = folder_links.subfolder(db, opened, path)
    page = folders.list_children(db, opened.actor, target.id, limit=limit, offset=offset)
    levels = file_levels(db, opened.actor, page.files)
    return ListingOut.of(page, levels, path="/" + path.strip("/"), limit=limit, offset=offset)


@router.get("/fl/{token}/zip")
def open_zip(
    token: str, drive: DriveDep, db: SessionDep, path: str = Query("", max_length=65536)
) -> StreamingResponse:
    """The linked folder (or ``path`` below it) as a streamed zip of what the creator may read."""
    opened = folder_links.resolve(drive, db, token)
    target = folder_links.subfolder(db, opened, path)
    return zip_response(downloads.zip_plan(drive, db, opened.actor, target.id))


@router.get("/fl/{token}/files/{file_id}")
def open_file(
    request: Request,
    token: str,
    file_id: str,
    drive: DriveDep,
    db: SessionDep,
    inline: bool = Query(False),
) -> Response:
    """A file below the linked folder, with Range support."""
    opened = folder_links.resolve(drive, db, token)
    dl = downloads.prepare(drive, db, folder_links.file_below(db, opened, file_id))
    return content_response(request, dl, inline=inline)


router.add_api_route(
    "/fl/{token}/files/{file_id}", open_file, methods=["HEAD"], include_in_schema=False
)
