"""Request packets: each calls the same drive service as its REST route, in one transaction.

A handler gets the drive context, the packet's transaction (committed after it returns, so
the change's events are published then, exactly as for REST), the caller and the packet's
``data``; it returns the reply's packet id and data. Errors are the services' own
``CordvaultError`` codes (the connection turns them into ``generic:boolean`` failures). Ids,
field names and meanings follow discord-cloud's client protocol where it has the packet
(``list-request``, ``create-folder``, ``rename-file``, ``rename-folder``, ``move-files``,
``delete-file``, ``delete-folder``, ``file-share``, ``thumbnail-request``); ids are ours
(strings), and where discord-cloud names a file by ``path`` + ``name`` an ``id`` is accepted
too. ``docs/live-protocol.md`` documents each packet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, files, folders, removal, users
from cordvault.drive import repository as repo
from cordvault.drive.api_models import FileOut, FolderOut
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import ROOT_ID, DriveFile, Folder
from cordvault.drive.previews.service import SIZES, has_thumbnail
from cordvault.web.live.protocol import (
    field_bool,
    field_int,
    field_str,
    invalid,
    req_str,
)

Reply = tuple[str, dict[str, Any]]
Handler = Callable[[DriveContext, Session, Actor, dict[str, Any]], Reply]

_SORTS = {"name": "name", "updated_at": "updated", "size": "size", "created_at": "created"}
PAGE_SIZE = 100


def _file_out(db: Session, actor: Actor, row: DriveFile) -> dict[str, Any]:
    _row, level = files.stat(db, actor, row.id)
    out = FileOut.of(row, level).model_dump(mode="json")
    out["has_thumbnail"] = has_thumbnail(db, row)
    return out


def _folder_out(row: Folder) -> dict[str, Any]:
    return FolderOut.of(row).model_dump(mode="json")


def _ok(**data: Any) -> Reply:
    return "generic:boolean", {"success": True, **data}


def _target_file(db: Session, data: dict[str, Any]) -> DriveFile:
    """The file named by ``id``, or by discord-cloud's ``path`` (its folder) + ``name``."""
    file_id = field_str(data, "id", required=False)
    if file_id is not None:
        return files.get_file(db, file_id)
    folder = folders.resolve(db, req_str(data, "path"))
    name = req_str(data, "name")
    row = repo.child_file(db, folder.id, name) if isinstance(folder, Folder) else None
    if row is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    return row


def _target_folder(db: Session, data: dict[str, Any], key: str = "id") -> Folder:
    folder_id = field_str(data, key, required=False)
    if folder_id is not None:
        return folders.get_folder(db, folder_id)
    found = folders.resolve(db, req_str(data, "path"))
    if not isinstance(found, Folder):
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    return found


# -- reading -------------------------------------------------------------------------------


def list_request(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:list-request`` -> ``s2c:list``: one page of a folder (``type`` subfolders/files
    narrows it; discord-cloud's sort: descending unless ``ascending_sort``)."""
    folder = _target_folder(db, data, "folder_id")
    page = field_int(data, "page", 0, lo=0, hi=1_000_000)
    size = field_int(data, "page_size", PAGE_SIZE, lo=1, hi=folders.MAX_PAGE)
    sort = data.get("sort_by", "name")
    if sort not in _SORTS:
        raise invalid("'data.sort_by' must be one of " + ", ".join(_SORTS), field="sort_by")
    desc = not field_bool(data, "ascending_sort", False)
    kind = data.get("type")
    if kind not in (None, "subfolders", "files"):
        raise invalid("'data.type' must be 'subfolders' or 'files'", field="type")
    offset = page * size
    if kind == "files":
        n_folders, _n_files = repo.count_children(db, folder.id)
        offset += n_folders
    listing = folders.list_children(
        db, actor, folder.id, sort=_SORTS[sort], desc=desc, limit=size, offset=offset
    )
    levels = files.share_levels(db, actor, listing.files)
    file_items = [] if kind == "subfolders" else listing.files
    return "s2c:list", {
        "success": True,
        "path": folders.folder_path(db, listing.folder),
        "folder": _folder_out(listing.folder),
        "folders": [] if kind == "files" else [_folder_out(f) for f in listing.folders],
        "files": [FileOut.of(f, levels[f.id]).model_dump(mode="json") for f in file_items],
        "total_folders": listing.total_folders,
        "total_files": listing.total_files,
        "page": page,
        "page_size": size,
    }


def file_stat(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:file-stat`` -> ``s2c:file``: one file's metadata and the caller's access."""
    return "s2c:file", {"handle": _file_out(db, actor, _target_file(db, data))}


def thumbnail_request(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:thumbnail-request`` -> ``s2c:thumbnail``: whether thumbnails exist and where."""
    row = _target_file(db, data)
    access.require_file(db, actor, row, access.Access.READ)
    ready = has_thumbnail(db, row)
    base = f"/api/drive/files/{row.id}/thumbnail"
    urls = {s: f"{base}?size={s}&v={row.content_version}" for s in SIZES} if ready else {}
    return "s2c:thumbnail", {"file_id": row.id, "ready": ready, "urls": urls}


# -- changing ------------------------------------------------------------------------------


def create_folder(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:create-folder``: ``path`` (``mkdir -p``), or ``parent_id`` + ``name``."""
    if "path" in data:
        row = folders.make_path(db, actor, req_str(data, "path"))
    else:
        row = folders.create_folder(db, actor, req_str(data, "parent_id"), req_str(data, "name"))
    return _ok(folder=_folder_out(row))


def rename_file(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    row = _target_file(db, data)
    files.update_file(ctx, db, actor, row.id, name=req_str(data, "target_name"))
    return _ok(file=_file_out(db, actor, row))


def rename_folder(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    row = _target_folder(db, data)
    out = folders.update_folder(ctx, db, actor, row.id, name=req_str(data, "target_name"))
    return _ok(folder=_folder_out(out))


def move_files(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:move-files``: ``files`` (names in ``source_id``, default the root) into
    ``target_id`` (default the root); all or nothing."""
    source = folders.get_folder(db, field_str(data, "source_id", required=False) or ROOT_ID)
    target = folders.get_folder(db, field_str(data, "target_id", required=False) or ROOT_ID)
    names = data.get("files")
    if (
        not isinstance(names, list)
        or not 0 < len(names) <= 1000
        or not all(isinstance(n, str) for n in names)
    ):
        raise invalid("'data.files' must be a list of 1 to 1000 file names", field="files")
    moved = []
    for name in names:
        row = repo.child_file(db, source.id, name)
        if row is None:
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such file", details={"name": name})
        files.update_file(ctx, db, actor, row.id, folder_id=target.id)
        moved.append(row.id)
    return _ok(moved=moved)


def move_folder(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    row = _target_folder(db, data)
    out = folders.update_folder(ctx, db, actor, row.id, parent_id=req_str(data, "target_id"))
    return _ok(folder=_folder_out(out))


def delete_file(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:delete-file``: ``id``, or discord-cloud's ``folder_id`` + ``name``."""
    if "folder_id" in data and "id" not in data:
        row = repo.child_file(db, req_str(data, "folder_id"), req_str(data, "name"))
        if row is None:
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    else:
        row = _target_file(db, data)
    removal.delete_file(ctx, db, actor, row.id)
    return _ok()


def delete_folder(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    count = folders.delete_folder(ctx, db, actor, req_str(data, "folder_id"))
    return _ok(deleted_files=count)


def file_share(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:file-share``: share with ``target_user`` (an account id) for reading, or
    writing with ``can_write``; ``is_deleting`` removes the share."""
    row = _target_file(db, data)
    user = users.get_user(db, field_int(data, "target_user", None, lo=1, hi=users.MAX_USER_ID))
    if field_bool(data, "is_deleting", False):
        files.remove_share(db, actor, row.id, user.name)
        return _ok()
    level = "write" if field_bool(data, "can_write", False) else "read"
    files.set_share(db, actor, row.id, user.name, level)
    return _ok(share={"user": user.id, "access": level})


def file_publish(ctx: DriveContext, db: Session, actor: Actor, data: dict[str, Any]) -> Reply:
    """``c2s:file-publish``: make a file public (``public: true``) or private."""
    row = _target_file(db, data)
    public = data.get("public")
    if not isinstance(public, bool):
        raise invalid("'data.public' must be true or false", field="public")
    files.update_file(ctx, db, actor, row.id, public=public)
    return _ok(file=_file_out(db, actor, row))


HANDLERS: dict[str, Handler] = {
    "c2s:list-request": list_request,
    "c2s:file-stat": file_stat,
    "c2s:thumbnail-request": thumbnail_request,
    "c2s:create-folder": create_folder,
    "c2s:rename-file": rename_file,
    "c2s:rename-folder": rename_folder,
    "c2s:move-files": move_files,
    "c2s:move-folder": move_folder,
    "c2s:delete-file": delete_file,
    "c2s:delete-folder": delete_folder,
    "c2s:file-share": file_share,
    "c2s:file-publish": file_publish,
}
"""Request packets answered in a drive transaction (``c2s:auth`` and ``c2s:ping`` are
handled by the connection itself)."""
