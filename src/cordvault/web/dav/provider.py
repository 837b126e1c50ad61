"""The WsgiDAV provider: paths to drive entries, for the caller the gateway authenticated.

Paths arrive percent-decoded; each component is normalised like every drive name (NFC, so a
macOS client's NFD "é" finds the NFC "é" stored by another client) by
:func:`cordvault.drive.folders.resolve`. A path that names nothing, or a name the drive could
never hold, is "not found" (404), never an error loop. Files the caller may not read are not
found either (see :mod:`.resources`).
"""

from __future__ import annotations

from typing import Any

from wsgidav.dav_provider import DAVProvider

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, dead_props, downloads, files, folders
from cordvault.drive.access import Access
from cordvault.drive.context import DriveContext
from cordvault.drive.models import Folder
from cordvault.web.dav.resources import FileInfo, FileResource, FolderInfo, FolderResource
from cordvault.web.dav.support import actor_of_environ, dav_errors, transaction


class DriveDavProvider(DAVProvider):  # type: ignore[misc]
    def __init__(self, drive: DriveContext) -> None:
        super().__init__()
        self.drive = drive

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        return self.lookup(path, environ)

    def lookup(self, path: str, environ: dict[str, Any]) -> FolderResource | FileResource | None:
        actor = actor_of_environ(environ)
        with dav_errors(), transaction(self.drive) as db:
            try:
                found = folders.resolve(db, path)
            except CordvaultError as exc:
                if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_NAME):
                    return None
                raise
            if isinstance(found, Folder):
                return FolderResource(path, environ, FolderInfo.of(found))
            level = access.file_access(db, actor, found)
            if level is Access.NONE:
                return None
            return FileResource(path, environ, FileInfo.of(found, level), found.folder_id)

    def members(self, parent: FolderResource) -> list[Any]:
        """Every subfolder and every readable file of ``parent``, with their dead properties
        (one transaction, four queries whatever the folder's size: subfolders, files as plain
        rows, the caller's shares there, dead properties)."""
        actor = actor_of_environ(parent.environ)
        with dav_errors(), transaction(self.drive) as db:
            subs = folders.child_folders(db, parent.info.id)
            visible = files.folder_listing(db, actor, parent.info.id)
            props = dead_props.of(db, [s.id for s in subs] + [f.id for f, _ in visible])
        base = parent.path if parent.path.endswith("/") else parent.path + "/"
        environ = parent.environ
        out: list[Any] = [
            FolderResource(base + s.name, environ, FolderInfo.of(s), props.get(s.id, {}))
            for s in subs
        ]
        out += [
            FileResource(
                base + f.name,
                environ,
                FileInfo(
                    f.id,
                    f.folder_id,
                    f.name,
                    f.size,
                    f.mime_type,
                    downloads.etag(f.id, f.content_version, f.sha256),
                    f.created_at,
                    f.updated_at,
                    level,
                ),
                f.folder_id,
                props.get(f.id, {}),
            )
            for f, level in visible
        ]
        return out
