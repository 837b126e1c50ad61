"""WebDAV dead properties (``PROPPATCH``) of files and folders, stored in the drive's database.

Keyed by the entry's id, so they follow renames and moves made through any front door, and are
deleted with the entry when WebDAV deletes it (an entry deleted through another front door
leaves rows no id will ever name again: ids are random). Setting or removing one needs the
right to change the entry (:mod:`cordvault.drive.access`): a file's owner or a ``write`` share,
a folder's owner. Reading them follows the entry's visibility (the caller checks that).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.files import get_file
from cordvault.drive.folders import get_folder

MAX_PROPS = 200
"""Dead properties one entry may carry."""
MAX_NAME = 512
MAX_VALUE = 64 * 1024


def of(db: Session, entry_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """``{entry id: {property name (Clark notation): XML value}}`` in one query per 500."""
    return repo.dav_props(db, list(entry_ids))


def _require_change(db: Session, actor: Actor, entry_id: str, *, is_folder: bool) -> None:
    if is_folder:
        access.require_folder_owner(actor, get_folder(db, entry_id))
    else:
        access.require_file(db, actor, get_file(db, entry_id), Access.WRITE)


def put(
    db: Session, actor: Actor, entry_id: str, name: str, value: str | None, *, is_folder: bool
) -> None:
    """Set (``value``) or remove (``None``) one property; removing an absent one is fine."""
    _require_change(db, actor, entry_id, is_folder=is_folder)
    if len(name) > MAX_NAME or (value is not None and len(value) > MAX_VALUE):
        raise CordvaultError(ErrorCode.INVALID_INPUT, "property name or value too long")
    if value is not None:
        existing = repo.dav_props(db, [entry_id]).get(entry_id, {})
        if name not in existing and len(existing) >= MAX_PROPS:
            raise CordvaultError(ErrorCode.INVALID_INPUT, f"at most {MAX_PROPS} properties")
    repo.set_dav_prop(db, entry_id, name, value)


def copy(db: Session, source_id: str, target_id: str) -> None:
    """Give ``target_id`` the properties of ``source_id`` (a WebDAV ``COPY``)."""
    for name, value in repo.dav_props(db, [source_id]).get(source_id, {}).items():
        repo.set_dav_prop(db, target_id, name, value)


def drop(db: Session, entry_ids: Sequence[str]) -> None:
    """Forget the properties of deleted entries."""
    repo.delete_dav_props(db, list(entry_ids))
