"""``GET /api/drive/files/{id}/thumbnail?size=list|grid[&v=N]``: a file's thumbnail (JPEG).

Read access to the file is needed (the same rule as its content). ``NO_THUMBNAIL`` (404) when
none exists for the file's current content (not made yet, or the file has none). The answer
has a strong ETag (``If-None-Match`` gives 304) and, when ``v`` names the current content
version (the URLs ``c2s:thumbnail-request`` hands out do), a year-long private cache lifetime:
a new content makes new URLs. Without ``v`` the client must revalidate.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from cordvault.drive.previews.service import open_thumbnail
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/drive", tags=["drive"])

_YEAR = 365 * 24 * 3600


@router.get("/files/{file_id}/thumbnail")
def thumbnail(
    request: Request,
    file_id: str,
    actor: CurrentUser,
    drive: DriveDep,
    db: SessionDep,
    size: str = Query("grid", pattern="^(list|grid)$"),
    v: int | None = Query(None, ge=0),
) -> Response:
    thumb = open_thumbnail(drive, db, actor, file_id, size)
    cache = (
        f"private, max-age={_YEAR}, immutable"
        if v == thumb.content_version
        else "private, no-cache"
    )
    headers = {"etag": thumb.etag, "cache-control": cache}
    wanted = request.headers.get("if-none-match", "")
    if thumb.etag in (t.strip() for t in wanted.split(",")):
        thumb.chunks.close()  # type: ignore[attr-defined]
        return Response(status_code=304, headers=headers)
    headers["content-length"] = str(thumb.length)
    body = (memoryview(piece) for piece in thumb.chunks)
    return StreamingResponse(body, media_type="image/jpeg", headers=headers)
