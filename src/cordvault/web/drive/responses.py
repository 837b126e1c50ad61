"""The drive's HTTP answers that several front doors share: a file's content, a zip, a link.

One copy each, so that a file downloaded through ``/api/drive/files/{id}/content``, a signed
link, a folder link, an earlier version or WebDAV gets the same headers, and a zip the same
ones whichever route built its plan.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from cordvault.drive.api_models import LinkOut
from cordvault.drive.context import DriveContext
from cordvault.drive.downloads import Download, ZipPlan
from cordvault.drive.folder_links import IssuedFolderLink
from cordvault.drive.signed_links import IssuedLink
from cordvault.drive.zipstream import stream_zip_tree
from cordvault.web.disposition import content_disposition
from cordvault.web.ranges import FILE_HEADERS, ranged_response


def content_response(request: Request, dl: Download, *, inline: bool = False) -> Response:
    """``dl``'s content answering ``request`` (Range, If-Range, HEAD, 416: see
    :func:`~cordvault.web.ranges.ranged_response`); ``inline`` asks the browser to show it
    rather than save it. Only the caller may cache it (``private, no-cache``): it was
    answered to someone's access."""
    return ranged_response(
        request,
        size=dl.size,
        etag=dl.etag,
        last_modified=dl.last_modified,
        media_type=dl.media_type,
        filename=dl.name,
        inline=inline,
        open_range=dl.open_range,
        headers={"cache-control": "private, no-cache"},
    )


def zip_response(plan: ZipPlan) -> StreamingResponse:
    """``plan`` as a streamed zip download named after it; ``X-Skipped-Files`` counts the
    files left out (those the caller may not read)."""
    headers = {
        **FILE_HEADERS,
        "content-disposition": content_disposition(f"{plan.name}.zip", inline=False),
        "x-skipped-files": str(plan.skipped),
    }
    return StreamingResponse(
        stream_zip_tree(plan.entries), media_type="application/zip", headers=headers
    )


def link_out(
    drive: DriveContext, request: Request, issued: IssuedLink | IssuedFolderLink
) -> LinkOut:
    """``issued`` as the API shows it. Its ``url`` opens it without an account: a file's signed
    link ``/api/drive/dl/{token}``, a folder link ``/api/drive/fl/{token}``, on
    ``DRIVE_PUBLIC_URL`` (or, when unset, on the address the request came to)."""
    route = "fl" if isinstance(issued, IssuedFolderLink) else "dl"
    base = drive.settings.drive_public_url or str(request.base_url)
    return LinkOut(
        id=issued.link.id,
        url=f"{base.rstrip('/')}/api/drive/{route}/{issued.token}",
        token=issued.token,
        expires_at=issued.link.expires_at,
        created_at=issued.link.created_at,
    )
