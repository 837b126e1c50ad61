"""The drive's HTTP adapter: ``/api/auth/...`` (accounts) and ``/api/drive/...`` (files).

Each route is a few lines: authenticate, call one service inside one transaction
(:func:`_tx`: commit on success, roll back on any error), shape the answer. Content responses are
built while the transaction is open and streamed after it closed, so a slow download never holds
a DB connection. Errors leave as the app-wide JSON shape (``web/app.py``); the routes, their
access rules and error codes are listed in ``docs/drive-api.md``.

``install`` takes the :class:`~cordvault.drive.context.DriveContext` from the composition root;
the garbage collector runs in the app's lifespan (``drive.gc.collector_loop``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import downloads, files, folders, links, uploads, users
from cordvault.drive.auth import Actor, actor_of, issue_token, verify_token
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, Folder
from cordvault.drive.names import OnConflict, split_path
from cordvault.drive.paging import MAX_OFFSET
from cordvault.drive.schemas import (
    ChunkOut,
    CompletedOut,
    Credentials,
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
    NewUser,
    OwnerIn,
    PasswordChange,
    ResolveOut,
    ShareIn,
    ShareOut,
    TokenOut,
    TypeUsageOut,
    UploadIn,
    UploadOut,
    UsageOut,
    UserOut,
    UserPatch,
)
from cordvault.runtime import Services
from cordvault.web.disposition import content_disposition
from cordvault.web.middleware import allow_streaming, streaming_route
from cordvault.web.ranges import FILE_HEADERS, ranged_response

log = logging.getLogger(__name__)

# Body types clients send by default (curl --data-binary, generic HTTP libraries): they say
# nothing about the file, so the type is guessed from the name instead.
_GENERIC_BODY_TYPES = (None, "application/x-www-form-urlencoded", "application/octet-stream")

BearerHeader = Annotated[str | None, Header(alias="authorization", include_in_schema=False)]


class _Routes:
    """Holds the drive context for the route functions (one instance per app)."""

    def __init__(self, drive: DriveContext) -> None:
        self.drive = drive

    @contextlib.contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, else rolled back."""
        with self.drive.sessions() as db, db.begin():
            yield db

    def actor(self, db: Session, authorization: str | None) -> Actor:
        """The caller, from ``Authorization: Bearer <token>``; else ``UNAUTHORIZED`` (401)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise CordvaultError(
                ErrorCode.UNAUTHORIZED,
                "sign in first (Authorization: Bearer <token>)",
            )
        return verify_token(self.drive, db, authorization[7:].strip())

    def link_url(self, request: Request, token: str) -> str:
        base = self.drive.settings.drive_public_url or str(request.base_url)
        return f"{base.rstrip('/')}/api/drive/dl/{token}"


def _token_out(drive: DriveContext, user: DriveUser) -> TokenOut:
    issued = issue_token(drive, user)
    return TokenOut(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


def _auth_router(r: _Routes) -> APIRouter:
    router = APIRouter(prefix="/api/auth", tags=["auth"])
    drive = r.drive

    @router.post("/register", status_code=201)
    def register(body: Credentials) -> TokenOut:
        """Create the first account (an administrator). Closed (403) once any account exists."""
        with r.tx() as db:
            user = users.register_first(db, body.name, body.password)
            return _token_out(drive, user)

    @router.post("/login")
    def login(body: Credentials) -> TokenOut:
        """Exchange name and password for a token (throttled: 429 after repeated failures)."""
        with r.tx() as db:
            user = users.authenticate(drive, db, body.name, body.password)
            return _token_out(drive, user)

    @router.get("/me")
    def me(authorization: BearerHeader = None) -> UserOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return UserOut.of(users.get_user(db, actor.id))

    @router.post("/password")
    def change_password(body: PasswordChange, authorization: BearerHeader = None) -> TokenOut:
        """Change one's password: every earlier token stops working; a new one is returned."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            user = users.change_password(drive, db, actor, body.old_password, body.new_password)
            return _token_out(drive, user)

    @router.get("/users")
    def list_users(
        authorization: BearerHeader = None,
        q: str | None = Query(None, max_length=64),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> list[UserOut]:
        """Search accounts by name (any user: needed to share); admins see every field."""
        with r.tx() as db:
            r.actor(db, authorization)
            rows = users.search_users(db, q, limit=limit, offset=offset)
            return [UserOut.of(u) for u in rows]

    @router.post("/users", status_code=201)
    def create_user(body: NewUser, authorization: BearerHeader = None) -> UserOut:
        """Create an account (administrators only)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            user = users.create_user(db, actor, body.name, body.password, is_admin=body.is_admin)
            return UserOut.of(user)

    @router.patch("/users/{user_id}")
    def update_user(user_id: int, body: UserPatch, authorization: BearerHeader = None) -> UserOut:
        """Promote/demote, disable/enable, reset the password (administrators only)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            user = users.update_user(
                db,
                actor,
                user_id,
                is_admin=body.is_admin,
                disabled=body.disabled,
                password=body.password,
            )
            return UserOut.of(user)

    return router


def _folder_router(r: _Routes) -> APIRouter:
    router = APIRouter(prefix="/api/drive", tags=["drive"])
    drive = r.drive

    @router.get("/resolve")
    def resolve(
        path: str = Query(max_length=65536), authorization: BearerHeader = None
    ) -> ResolveOut:
        """The folder or file at an absolute path."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            found = folders.resolve(db, path)
            clean = "/" + "/".join(split_path(path))
            if isinstance(found, Folder):
                return ResolveOut(path=clean, folder=FolderOut.of(found))
            _row, level = files.stat(db, actor, found.id)
            return ResolveOut(path=clean, file=FileOut.of(found, level))

    @router.post("/folders", status_code=201)
    def create_folder(body: FolderIn, authorization: BearerHeader = None) -> FolderOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            row = folders.create_folder(db, actor, body.parent_id, body.name, body.on_conflict)
            return FolderOut.of(row)

    @router.post("/mkdir", status_code=201)
    def make_path(
        path: str = Query(max_length=65536), authorization: BearerHeader = None
    ) -> FolderOut:
        """Create a folder and any missing parents (``mkdir -p``)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return FolderOut.of(folders.make_path(db, actor, path))

    @router.get("/folders/{folder_id}")
    def list_folder(
        folder_id: str,
        authorization: BearerHeader = None,
        sort: str = Query("name"),
        order: str = Query("asc", pattern="^(asc|desc)$"),
        limit: int = Query(100, ge=1, le=folders.MAX_PAGE),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> ListingOut:
        """A page of the folder's entries: folders first, then files."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            page = folders.list_children(
                db, actor, folder_id, sort=sort, desc=order == "desc", limit=limit, offset=offset
            )
            shared = files.share_levels(db, actor, page.files)
            items: list[FolderOut | FileOut] = [FolderOut.of(f) for f in page.folders]
            items += [FileOut.of(f, shared[f.id]) for f in page.files]
            return ListingOut(
                folder=FolderOut.of(page.folder),
                path=folders.folder_path(db, page.folder),
                items=items,
                total=page.total_folders + page.total_files,
                total_folders=page.total_folders,
                total_files=page.total_files,
                limit=limit,
                offset=offset,
            )

    @router.patch("/folders/{folder_id}")
    def update_folder(
        folder_id: str, body: FolderPatch, authorization: BearerHeader = None
    ) -> FolderOut:
        """Rename and/or move (``overwrite`` on a clash with a folder merges into it)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
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
    def delete_folder(folder_id: str, authorization: BearerHeader = None) -> dict[str, int]:
        """Delete recursively; the files' chunks are collected in the background."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return {"deleted_files": folders.delete_folder(drive, db, actor, folder_id)}

    @router.post("/folders/{folder_id}/merge")
    def merge(folder_id: str, body: MergeIn, authorization: BearerHeader = None) -> MergeOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            rep = folders.merge(drive, db, actor, folder_id, body.into, body.on_conflict)
            return MergeOut(
                moved=rep.moved,
                skipped=rep.skipped,
                renamed=rep.renamed,
                overwritten=rep.overwritten,
            )

    @router.get("/folders/{folder_id}/usage")
    def usage(folder_id: str, authorization: BearerHeader = None) -> UsageOut:
        """Size of the folder tree by MIME major type and by MIME type."""
        with r.tx() as db:
            r.actor(db, authorization)
            u = folders.usage(db, folder_id)
            return UsageOut(
                files=u.files,
                size=u.size,
                by_type=[TypeUsageOut(type=t.type, count=t.count, size=t.size) for t in u.by_type],
                by_mime=[TypeUsageOut(type=t.type, count=t.count, size=t.size) for t in u.by_mime],
            )

    @router.get("/folders/{folder_id}/zip")
    def zip_folder(folder_id: str, authorization: BearerHeader = None) -> StreamingResponse:
        """The folder tree as a streamed zip (Zip64 as needed); unreadable files are skipped."""
        from cordvault.drive.zipstream import stream_zip_tree

        with r.tx() as db:
            actor = r.actor(db, authorization)
            plan = downloads.zip_plan(drive, db, actor, folder_id)
        headers = {
            **FILE_HEADERS,
            "content-disposition": content_disposition(f"{plan.name}.zip", inline=False),
            "x-skipped-files": str(plan.skipped),
        }
        return StreamingResponse(
            stream_zip_tree(plan.entries), media_type="application/zip", headers=headers
        )

    return router


def _file_router(r: _Routes) -> APIRouter:
    router = APIRouter(prefix="/api/drive", tags=["drive"])
    drive = r.drive

    @router.get("/files/{file_id}")
    def stat(file_id: str, authorization: BearerHeader = None) -> FileOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            row, level = files.stat(db, actor, file_id)
            return FileOut.of(row, level)

    @router.patch("/files/{file_id}")
    def update(file_id: str, body: FilePatch, authorization: BearerHeader = None) -> FileOut:
        """Rename/move (owner or write share), publish (owner). ``skip`` changes nothing."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
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
    def delete(file_id: str, authorization: BearerHeader = None) -> Response:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            files.delete_file(drive, db, actor, file_id)
        return Response(status_code=204)

    @router.get("/files/{file_id}/content")
    def content(
        request: Request,
        file_id: str,
        authorization: BearerHeader = None,
        inline: bool = Query(False),
    ) -> Response:
        """The content: streamed, Range/If-Range/HEAD/416, multipart/byteranges."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            dl = downloads.open_file(drive, db, actor, file_id)
        return _content_response(request, dl, inline=inline)

    # HEAD shares the handler; kept out of the schema so operation ids stay unique.
    router.add_api_route(
        "/files/{file_id}/content", content, methods=["HEAD"], include_in_schema=False
    )

    @router.post("/files/{file_id}/owner")
    def transfer(file_id: str, body: OwnerIn, authorization: BearerHeader = None) -> FileOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            row = files.transfer_ownership(db, actor, file_id, body.user)
            return FileOut.of(row, files.stat(db, actor, row.id)[1])

    @router.get("/files/{file_id}/shares")
    def list_shares(file_id: str, authorization: BearerHeader = None) -> list[ShareOut]:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return [ShareOut(user=u, access=a) for u, a in files.list_shares(db, actor, file_id)]

    @router.put("/files/{file_id}/shares/{user_name}")
    def share(
        file_id: str, user_name: str, body: ShareIn, authorization: BearerHeader = None
    ) -> ShareOut:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            row = files.set_share(db, actor, file_id, user_name, body.access)
            return ShareOut(user=user_name, access=row.access)

    @router.delete("/files/{file_id}/shares/{user_name}", status_code=204)
    def unshare(file_id: str, user_name: str, authorization: BearerHeader = None) -> Response:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            files.remove_share(db, actor, file_id, user_name)
        return Response(status_code=204)

    @router.get("/shared")
    def shared_with_me(
        authorization: BearerHeader = None,
        limit: int = Query(100, ge=1, le=files.MAX_SHARED_PAGE),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> list[FileOut]:
        """Files other users shared with the caller."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            rows = files.shared_with(db, actor, limit, offset)
            levels = files.share_levels(db, actor, rows)
            return [FileOut.of(f, levels[f.id]) for f in rows]

    @router.post("/files/{file_id}/links", status_code=201)
    def create_link(
        request: Request, file_id: str, body: LinkIn, authorization: BearerHeader = None
    ) -> LinkOut:
        """A signed download link (no account needed to open it)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            issued = links.create_link(drive, db, actor, file_id, body.expires_in)
            return _link_out(r, request, issued)

    @router.get("/files/{file_id}/links")
    def list_links(
        request: Request, file_id: str, authorization: BearerHeader = None
    ) -> list[LinkOut]:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return [_link_out(r, request, i) for i in links.list_links(drive, db, actor, file_id)]

    @router.delete("/files/{file_id}/links")
    def revoke_links(file_id: str, authorization: BearerHeader = None) -> dict[str, int]:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            return {"revoked": links.revoke_links(db, actor, file_id)}

    @router.delete("/links/{link_id}", status_code=204)
    def revoke_link(link_id: str, authorization: BearerHeader = None) -> Response:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            links.revoke_link(db, actor, link_id)
        return Response(status_code=204)

    @router.get("/dl/{token}")
    def open_link(request: Request, token: str, inline: bool = Query(False)) -> Response:
        """Download through a signed link: no account, same Range support."""
        with r.tx() as db:
            row = links.resolve(drive, db, token)
            dl = downloads.prepare(drive, db, row)
        return _content_response(request, dl, inline=inline, private=True)

    router.add_api_route("/dl/{token}", open_link, methods=["HEAD"], include_in_schema=False)
    return router


def _link_out(r: _Routes, request: Request, issued: links.IssuedLink) -> LinkOut:
    return LinkOut(
        id=issued.link.id,
        url=r.link_url(request, issued.token),
        token=issued.token,
        expires_at=issued.link.expires_at,
        created_at=issued.link.created_at,
    )


def _content_response(
    request: Request, dl: downloads.Download, *, inline: bool, private: bool = True
) -> Response:
    return ranged_response(
        request,
        size=dl.size,
        etag=dl.etag,
        last_modified=dl.last_modified,
        media_type=dl.media_type,
        filename=dl.name,
        inline=inline,
        open_range=dl.open_range,
        headers={"cache-control": "private, no-cache" if private else "no-cache"},
    )


def _upload_router(r: _Routes) -> APIRouter:
    router = APIRouter(prefix="/api/drive", tags=["uploads"])
    drive = r.drive

    @router.post("/uploads", status_code=201)
    def create_upload(body: UploadIn, authorization: BearerHeader = None) -> UploadOut:
        """Open a resumable upload: send chunks in any order, then complete."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
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
    def upload_status(upload_id: str, authorization: BearerHeader = None) -> UploadOut:
        """The session and the chunks already received (what a resuming client skips)."""
        with r.tx() as db:
            actor = r.actor(db, authorization)
            up, received = uploads.status(db, actor, upload_id)
            return UploadOut.of(up, received)

    @router.put("/uploads/{upload_id}/chunks/{index}")
    async def put_chunk(
        request: Request,
        upload_id: str,
        index: int,
        authorization: BearerHeader = None,
        chunk_sha256: Annotated[str | None, Header(alias="x-chunk-sha256")] = None,
    ) -> ChunkOut:
        """Store chunk ``index`` (raw body). Idempotent; safe to retry and to run in parallel."""
        actor, limit = await run_in_threadpool(_chunk_limit, r, authorization, upload_id)
        data = await _read_bounded(request, limit)
        stored = await run_in_threadpool(
            uploads.put_chunk, drive, actor, upload_id, index, data, chunk_sha256
        )
        return ChunkOut(index=index, stored=stored)

    @router.post("/uploads/{upload_id}/complete")
    def complete(upload_id: str, authorization: BearerHeader = None) -> CompletedOut:
        """Verify size and SHA-256 and make the file visible (409 when done already)."""
        actor = _actor_in_tx(r, authorization)
        done = uploads.complete(drive, actor, upload_id)
        return _completed_out(r, actor, done)

    @router.delete("/uploads/{upload_id}", status_code=204)
    def abort(upload_id: str, authorization: BearerHeader = None) -> Response:
        with r.tx() as db:
            actor = r.actor(db, authorization)
            uploads.abort(drive, db, actor, upload_id)
        return Response(status_code=204)

    @router.put("/upload", status_code=201)
    async def stream_upload(
        request: Request,
        authorization: BearerHeader = None,
        path: str | None = Query(None, max_length=65536),
        folder_id: str | None = Query(None),
        name: str | None = Query(None, max_length=4096),
        on_conflict: Annotated[OnConflict, Query()] = OnConflict.FAIL,
        content_type: Annotated[str | None, Header(alias="content-type")] = None,
        sha256: Annotated[str | None, Header(alias="x-content-sha256")] = None,
    ) -> CompletedOut:
        """One-request upload (``curl -T FILE URL?path=/dir/name``): streamed to the store."""
        actor = await run_in_threadpool(_actor_in_tx, r, authorization)
        target_folder, target_name = await run_in_threadpool(
            _stream_target, r, path, folder_id, name
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
        )
        return await run_in_threadpool(_completed_out, r, actor, done)

    return router


def _actor_in_tx(r: _Routes, authorization: str | None) -> Actor:
    with r.tx() as db:
        return r.actor(db, authorization)


def _chunk_limit(r: _Routes, authorization: str | None, upload_id: str) -> tuple[Actor, int]:
    """The caller and the largest chunk body the session accepts (memory bound per request)."""
    with r.tx() as db:
        actor = r.actor(db, authorization)
        up, _received = uploads.status(db, actor, upload_id)
        return actor, up.chunk_size


def _stream_target(
    r: _Routes, path: str | None, folder_id: str | None, name: str | None
) -> tuple[str, str]:
    if path is not None:
        parts = split_path(path)
        if not parts:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "path must name a file")
        with r.tx() as db:
            parent = folders.resolve(db, "/".join(parts[:-1]))
            if not isinstance(parent, Folder):
                raise CordvaultError(ErrorCode.NOT_FOUND, "the parent folder does not exist")
            return parent.id, parts[-1]
    if name is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "give path, or folder_id and name")
    return folder_id or "root", name


def _completed_out(r: _Routes, actor: Actor, done: uploads.Completed) -> CompletedOut:
    with r.tx() as db:
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


def install(app: FastAPI, services: Services) -> None:
    """Add the drive routes (the app's lifespan runs the garbage collector)."""
    r = _Routes(services.drive)
    for router in (_auth_router(r), _folder_router(r), _file_router(r), _upload_router(r)):
        app.include_router(router)
    # The upload routes stream their bodies (bounded by the chunk size / streamed to the
    # store); every other route is held to MAX_JSON_BODY_BYTES.
    allow_streaming(
        app,
        streaming_route("PUT", r"/api/drive/uploads/[^/]+/chunks/[^/]+"),
        streaming_route("PUT", r"/api/drive/upload"),
    )


__all__ = ["actor_of", "install"]
