"""WsgiDAV resources over the drive: :class:`FolderResource` and :class:`FileResource`.

A resource is a snapshot taken in one short transaction (:mod:`.provider` builds them); every
change calls the drive's services in a transaction of its own, so the access rules are the
drive's (:mod:`cordvault.drive.access`) and nothing is decided here. Content never passes
through a transaction: ``PUT`` streams the request body into
:func:`cordvault.drive.uploads.write_upload` (the chunk writer, bounded memory, no temporary
copy), ``COPY`` streams one file's decrypted content into another upload.

WebDAV specifics handled here:

- visibility: folders are one shared tree (every user sees every folder); files are listed
  and found only for users who may read them (owner, share, public), so a file manager never
  shows entries it cannot open;
- dead properties live in the drive's database by entry id (:mod:`cordvault.drive.dead_props`)
  and are prefetched for a whole folder listing (one query);
- quota: ``quota-used-bytes`` of a folder is the drive's usage of its tree
  (:func:`cordvault.drive.folders.usage`), returned when asked for by name (RFC 4331 keeps it
  out of ``allprop``, and computing it for every member of a listing would be wasteful);
- folder listings (``PROPFIND Depth: 1``) take their live properties from
  :meth:`_Entry.listing_properties` (see :mod:`.listing`), the same values WsgiDAV's
  per-property path gives, computed in one pass;
- locking needs the right to change the entry (:meth:`prevent_locking`); the lock table is
  WsgiDAV's in-memory one (locks live until they time out or the server restarts);
- ``MOVE`` of a file keeps its id (a rename, with ``Overwrite`` replacing the target);
  WsgiDAV deletes a moved file's source afterwards, which is then a no-op.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wsgidav import util, xml_tools
from wsgidav.dav_error import DAVError, as_DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.lock_man.lock_manager import normalize_lock_root

from cordvault.drive import dead_props, downloads, files, folders, removal, uploads
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.content import DEFAULT_MIME
from cordvault.drive.models import ROOT_ID, DriveFile, Folder
from cordvault.drive.names import OnConflict
from cordvault.web.dav.support import actor_of_environ, dav_errors, transaction

if TYPE_CHECKING:
    from cordvault.web.dav.provider import DriveDavProvider

_QUOTA_USED = "{DAV:}quota-used-bytes"
_LOCK_DISCOVERY = "{DAV:}lockdiscovery"
_SUPPORTED_LOCK = "{DAV:}supportedlock"


class Xml(str):
    """A property value that is already an element, serialised as lxml writes it inside a
    multistatus whose root declares ``D`` for ``DAV:`` (only :mod:`.listing` reads these)."""


_COLLECTION = Xml("<D:resourcetype><D:collection/></D:resourcetype>")
_NO_LOCKS = Xml("<D:lockdiscovery/>")
# WsgiDAV's ``supportedlock`` (``DAVResource.get_property_value``): exclusive and shared write.
_LOCK_KINDS = Xml(
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "</D:supportedlock>"
)
# Body types that say nothing about the file: the type is guessed from the name instead.
_GENERIC_TYPES = (None, "", "application/octet-stream", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class FolderInfo:
    id: str
    name: str
    owner_id: int | None
    created: datetime
    updated: datetime

    @classmethod
    def of(cls, row: Folder) -> FolderInfo:
        return cls(row.id, row.name, row.owner_id, row.created_at, row.updated_at)


@dataclass(frozen=True)
class FileInfo:
    id: str
    folder_id: str
    name: str
    size: int
    mime_type: str
    etag: str
    created: datetime
    updated: datetime
    access: Access

    @classmethod
    def of(cls, row: DriveFile, level: Access) -> FileInfo:
        return cls(
            row.id,
            row.folder_id,
            row.name,
            row.size,
            row.mime_type,
            downloads.etag_of(row),
            row.created_at,
            row.updated_at,
            level,
        )


class _Entry:
    """Behaviour shared by folders and files: the caller, dead properties, lock rights."""

    path: str
    name: str
    environ: dict[str, Any]
    provider: DriveDavProvider
    _props: dict[str, str] | None
    _listing_names = False
    _ref_url: str | None = None

    @property
    def actor(self) -> Actor:
        return actor_of_environ(self.environ)

    @property
    def entry_id(self) -> str | None:
        raise NotImplementedError

    @property
    def is_folder(self) -> bool:
        raise NotImplementedError

    def may_change(self) -> bool:
        raise NotImplementedError

    def get_used_bytes(self) -> int | None:
        return None

    def dead(self) -> dict[str, str]:
        if self._props is None:
            ident = self.entry_id
            if ident is None:
                return {}
            with transaction(self.provider.drive) as db:
                self._props = dead_props.of(db, [ident]).get(ident, {})
        return self._props

    # -- WsgiDAV hooks (dead properties handled here, live ones by WsgiDAV) ---------------

    def get_ref_url(self) -> str:
        # WsgiDAV asks for it once per property (a percent-quoting each time): remember it.
        if self._ref_url is None:
            self._ref_url = str(super().get_ref_url())  # type: ignore[misc]
        return self._ref_url

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        self._listing_names = True
        try:
            names: list[str] = super().get_property_names(is_allprop=is_allprop)  # type: ignore[misc]
        finally:
            self._listing_names = False
        if self.is_folder and not is_allprop:
            names.append(_QUOTA_USED)
        return names + list(self.dead())

    def get_property_value(self, name: str) -> Any:
        if name == _QUOTA_USED and self.is_folder:
            return str(self.get_used_bytes())  # lxml takes text, not numbers
        if name.startswith("{DAV:}"):
            return super().get_property_value(name)  # type: ignore[misc]
        value = self.dead().get(name)
        if value is None:
            raise DAVError(404)
        return xml_tools.string_to_xml(value)

    # -- folder listings (see .listing) ---------------------------------------------------

    def listing_properties(
        self, mode: str, names: list[str] | None, lock_roots: frozenset[str] | None
    ) -> list[tuple[str, Any]]:
        """What ``get_properties(mode, name_list=names)`` returns, with the standard live
        properties computed at once (text, or :class:`Xml` for the fixed elements) instead of
        one ``get_property_value`` call each; every other name goes through
        ``get_property_value`` as in WsgiDAV. ``lock_roots``: every lock root at or below the
        listed folder (an entry not among them has an empty ``lockdiscovery``)."""
        if mode == "name":
            result: list[tuple[str, Any]] = self.get_properties("name")  # type: ignore[attr-defined]
            return result
        live = self._live()
        locks = self.provider.lock_manager
        if mode == "allprop":
            wanted = list(live)
            if locks and not self.prevent_locking():
                wanted += [_LOCK_DISCOVERY, _SUPPORTED_LOCK]
            wanted += list(self.dead())
        else:
            wanted = list(names or ())
        out: list[tuple[str, Any]] = []
        for name in wanted:
            value = live.get(name)
            if value is None:
                try:
                    value = self._other_property(name, locks, lock_roots)
                except DAVError as exc:
                    value = exc
                except Exception as exc:
                    value = as_DAVError(exc)
            out.append((name, value))
        return out

    def _live(self) -> dict[str, str]:
        """The standard live properties this entry has, in WsgiDAV's ``allprop`` order."""
        is_folder = self.is_folder
        out: dict[str, str] = {"{DAV:}resourcetype": _COLLECTION if is_folder else ""}
        created = self.get_creation_date()  # type: ignore[attr-defined]
        if created is not None:
            out["{DAV:}creationdate"] = util.get_rfc3339_time(created)
        if not is_folder:
            out["{DAV:}getcontentlength"] = str(self.get_content_length())  # type: ignore[attr-defined]
            out["{DAV:}getcontenttype"] = self.get_content_type()  # type: ignore[attr-defined]
        modified = self.get_last_modified()  # type: ignore[attr-defined]
        if modified is not None:
            out["{DAV:}getlastmodified"] = util.get_rfc1123_time(modified)
        out["{DAV:}displayname"] = self.get_display_name()  # type: ignore[attr-defined]
        if not is_folder:
            etag = self.get_etag()  # type: ignore[attr-defined]
            if etag is not None:
                out["{DAV:}getetag"] = etag
        return out

    def _other_property(self, name: str, locks: Any, lock_roots: frozenset[str] | None) -> Any:
        if locks and name == _LOCK_DISCOVERY:
            if lock_roots is not None and (
                not lock_roots or normalize_lock_root(self.get_ref_url()) not in lock_roots
            ):
                return _NO_LOCKS
            if not locks.get_url_lock_list(self.get_ref_url()):
                return _NO_LOCKS
        elif locks and name == _SUPPORTED_LOCK:
            return _LOCK_KINDS
        return self.get_property_value(name)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if name.startswith("{DAV:}"):
            return super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]
        ident = self.entry_id
        if ident is None or not self.may_change():
            raise DAVError(403)
        if dry_run:
            return None
        # The element as text without an XML declaration (lxml refuses to re-parse a str that
        # carries one); both lxml and ElementTree write it so.
        text = None if value is None else xml_tools.etree.tostring(value, encoding="unicode")
        with dav_errors(), transaction(self.provider.drive) as db:
            dead_props.put(db, self.actor, ident, name, text, is_folder=self.is_folder)
        self._props = None
        return None

    def remove_all_properties(self, *, recursive: bool) -> None:
        return None  # deletes drop the rows themselves (see delete())

    def prevent_locking(self) -> bool:
        return not self.may_change()

    # -- helpers for copy/move -------------------------------------------------------------

    def _target(self, dest_path: str) -> tuple[FolderInfo, str]:
        """The existing parent folder and the name of a destination path (409 otherwise)."""
        parent_path, name = posixpath.split(dest_path.rstrip("/"))
        parent = self.provider.lookup(parent_path or "/", self.environ)
        if not isinstance(parent, FolderResource):
            raise DAVError(409, context_info="the destination's parent is not a folder")
        return parent.info, name


class FolderResource(_Entry, DAVCollection):  # type: ignore[misc]
    def __init__(
        self,
        path: str,
        environ: dict[str, Any],
        info: FolderInfo,
        props: dict[str, str] | None = None,
    ) -> None:
        DAVCollection.__init__(self, path, environ)
        self.info = info
        self._props = props

    @property
    def entry_id(self) -> str | None:
        return self.info.id

    @property
    def is_folder(self) -> bool:
        return True

    def may_change(self) -> bool:
        return self.info.id != ROOT_ID and self.info.owner_id == self.actor.id

    def get_display_name(self) -> str:
        return self.info.name or "drive"

    def get_creation_date(self) -> float:
        return self.info.created.timestamp()

    def get_last_modified(self) -> float:
        return self.info.updated.timestamp()

    def get_used_bytes(self) -> int | None:
        if self._listing_names:
            return None
        with dav_errors(), transaction(self.provider.drive) as db:
            return folders.usage(db, self.info.id).size

    def get_member_names(self) -> list[str]:
        return [m.name for m in self.get_member_list()]

    def get_member_list(self) -> list[_Entry]:
        return self.provider.members(self)

    def support_recursive_delete(self) -> bool:
        return True

    def delete(self) -> None:
        drive = self.provider.drive
        with dav_errors(), transaction(drive) as db:
            ids = folders.subtree_ids(db, self.info.id)
            gone = ids + [f.id for f in repo.files_in(db, ids)]
            folders.delete_folder(drive, db, self.actor, self.info.id)
            dead_props.drop(db, gone)
        self.remove_all_locks(recursive=True)

    def create_collection(self, name: str) -> None:
        with dav_errors(), transaction(self.provider.drive) as db:
            folders.create_folder(db, self.actor, self.info.id, name)

    def create_empty_resource(self, name: str) -> FileResource:
        """For ``PUT``: a file that exists once its body is stored. For ``LOCK`` on an unmapped
        URL: an empty file now (RFC 4918, 7.3)."""
        pending = FileResource(posixpath.join(self.path, name), self.environ, None, self.info.id)
        pending.pending_name = name
        if self.environ.get("REQUEST_METHOD") != "PUT":
            pending.store([], None, OnConflict.FAIL)
        return pending

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> list[Any]:
        target, name = self._target(dest_path)
        drive = self.provider.drive
        with dav_errors(), transaction(drive) as db:
            folders.update_folder(
                drive, db, self.actor, self.info.id, name=name, parent_id=target.id
            )
        self.remove_all_locks(recursive=True)
        return []

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        """Create the destination folder (members are WsgiDAV's business) with our properties."""
        target, name = self._target(dest_path)
        with dav_errors(), transaction(self.provider.drive) as db:
            made = folders.create_folder(db, self.actor, target.id, name, OnConflict.SKIP)
            dead_props.copy(db, self.info.id, made.id)


class FileResource(_Entry, DAVNonCollection):  # type: ignore[misc]
    """A file; ``info`` is None for a file being created by ``PUT`` (``pending_name``)."""

    pending_name = ""

    def __init__(
        self,
        path: str,
        environ: dict[str, Any],
        info: FileInfo | None,
        folder_id: str,
        props: dict[str, str] | None = None,
    ) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.info = info
        self.folder_id = folder_id
        self._props = props
        self._moved = False

    @property
    def entry_id(self) -> str | None:
        return self.info.id if self.info is not None else None

    @property
    def is_folder(self) -> bool:
        return False

    @property
    def file_name(self) -> str:
        return self.info.name if self.info is not None else self.pending_name

    def may_change(self) -> bool:
        return self.info is None or self.info.access in (Access.WRITE, Access.OWNER)

    def _known(self) -> FileInfo:
        if self.info is None:
            raise DAVError(404)
        return self.info

    def get_content_length(self) -> int:
        return self._known().size if self.info is not None else 0

    def get_content_type(self) -> str:
        return self.info.mime_type if self.info is not None else DEFAULT_MIME

    def get_creation_date(self) -> float | None:
        return self.info.created.timestamp() if self.info is not None else None

    def get_last_modified(self) -> float | None:
        return self.info.updated.timestamp() if self.info is not None else None

    def get_display_name(self) -> str:
        return self.file_name

    def get_etag(self) -> str | None:
        return self.info.etag if self.info is not None else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> _RangeFile:
        """The content as a seekable stream (the gateway serves GET itself; this is WsgiDAV's
        contract for anything else that reads)."""
        info = self._known()
        with dav_errors(), transaction(self.provider.drive) as db:
            dl = downloads.open_file(self.provider.drive, db, self.actor, info.id)
        return _RangeFile(dl)

    # -- writing ---------------------------------------------------------------------------

    def store(
        self, data: Iterable[bytes | bytearray], mime_type: str | None, policy: OnConflict
    ) -> None:
        """Stream ``data`` into the file (a new one, or a new version of this one)."""
        drive = self.provider.drive
        with dav_errors():
            done = uploads.write_upload(
                drive,
                self.actor,
                folder_id=self.folder_id,
                name=self.file_name,
                data=data,
                mime_type=None if mime_type in _GENERIC_TYPES else mime_type,
                on_conflict=policy,
            )
            with transaction(drive) as db:
                row, level = files.stat(db, self.actor, done.file.id)
                self.info = FileInfo.of(row, level)

    def begin_write(self, *, content_type: str | None = None) -> _UploadSink:
        if not self.may_change():
            raise DAVError(403)
        return _UploadSink(self, content_type)

    def support_recursive_move(self, dest_path: str) -> bool:
        return False  # a file moves through copy_move_single (keeping its id)

    def end_write(self, *, with_errors: bool) -> None:
        return None  # the upload committed (or cleaned up) inside _UploadSink.writelines

    def delete(self) -> None:
        if self._moved:
            return  # WsgiDAV deletes a moved file's source; ours moved, keeping its id
        info = self._known()
        drive = self.provider.drive
        with dav_errors(), transaction(drive) as db:
            removal.delete_file(drive, db, self.actor, info.id)
            dead_props.drop(db, [info.id])
        self.remove_all_locks(recursive=False)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        info = self._known()
        target, name = self._target(dest_path)
        drive = self.provider.drive
        if is_move:
            with dav_errors(), transaction(drive) as db:
                files.update_file(
                    drive,
                    db,
                    self.actor,
                    info.id,
                    name=name,
                    folder_id=target.id,
                    on_conflict=OnConflict.OVERWRITE,
                )
            self.remove_all_locks(recursive=False)
            self._moved = True
            return
        with dav_errors(), transaction(drive) as db:
            dl = downloads.open_file(drive, db, self.actor, info.id)
        copy = FileResource(dest_path, self.environ, None, target.id)
        copy.pending_name = name
        stream = dl.open_range(0, dl.size)
        with contextlib.closing(stream):  # type: ignore[type-var]
            copy.store(stream, info.mime_type, OnConflict.OVERWRITE)
        with dav_errors(), transaction(drive) as db:
            dead_props.copy(db, info.id, copy._known().id)


class _UploadSink:
    """What WsgiDAV's ``PUT`` writes into: it hands the whole body stream to ``writelines``."""

    def __init__(self, resource: FileResource, content_type: str | None) -> None:
        self.resource = resource
        self.content_type = content_type

    def writelines(self, data: Iterable[bytes]) -> None:
        self.resource.store(data, self.content_type, OnConflict.OVERWRITE)

    def write(self, data: bytes) -> None:  # WsgiDAV prefers writelines; never buffer here
        raise DAVError(500, context_info="unexpected piecewise write")

    def close(self) -> None:
        return None


class _RangeFile:
    """A read-only, seekable view of a download: ``seek`` then ``read`` from there on."""

    def __init__(self, dl: downloads.Download) -> None:
        self.dl = dl
        self._pos = 0
        self._it: Any = None
        self._buf = b""

    def seek(self, pos: int) -> None:
        self.close()
        self._pos = pos

    def read(self, size: int = -1) -> bytes:
        if self._it is None:
            self._it = self.dl.open_range(self._pos, self.dl.size)
        out = bytearray(self._buf)
        while size < 0 or len(out) < size:
            piece = next(self._it, b"")
            if not piece:
                break
            out += piece
        if size >= 0:
            self._buf = bytes(out[size:])
            del out[size:]
        else:
            self._buf = b""
        return bytes(out)

    def close(self) -> None:
        if self._it is not None:
            self._it.close()
        self._it, self._buf = None, b""
