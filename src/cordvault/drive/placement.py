"""Putting an entry under a name in a folder: the overwrite policy and the uniqueness guard.

Names are unique per folder across folders *and* files. The DB's unique constraints catch the
race two API processes could still run into; :func:`unique_names` turns that into the same
``NAME_CONFLICT`` the pre-check gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.models import DriveFile, Folder
from cordvault.drive.names import OnConflict, candidate_names

_MAX_RENAME_TRIES = 10_000


def conflict(what: str = "an entry with this name already exists in the folder") -> CordvaultError:
    return CordvaultError(ErrorCode.NAME_CONFLICT, what)


@contextmanager
def unique_names(db: Session) -> Iterator[None]:
    """Flush the block's inserts/renames; a unique-constraint race becomes NAME_CONFLICT.

    No savepoint (pysqlite's SAVEPOINT handling commits the outer transaction): after the
    error the session is unusable, which is fine because the caller's transaction is then
    rolled back as a whole.
    """
    try:
        yield
        db.flush()
    except IntegrityError:
        raise conflict() from None


@dataclass(frozen=True)
class Placement:
    """Where a new or moved entry goes: ``name`` to use, or ``skip``, or a file to replace."""

    name: str
    skip: bool = False
    existing_file: DriveFile | None = None
    existing_folder: Folder | None = None


def place(
    db: Session, folder_id: str, name: str, policy: OnConflict, *, ignore_id: str | None = None
) -> Placement:
    """Apply ``policy`` to ``name`` in ``folder_id``. ``ignore_id``: the entry being renamed.

    - free name -> use it;
    - ``fail`` -> NAME_CONFLICT; ``skip`` -> ``skip=True`` (with the existing entry);
    - ``rename`` -> the first free ``name (n).ext``;
    - ``overwrite`` -> the existing entry is returned for the caller to replace or merge.
    """
    existing_folder = repo.child_folder(db, folder_id, name)
    existing_file = repo.child_file(db, folder_id, name)
    if existing_folder is not None and existing_folder.id == ignore_id:
        existing_folder = None
    if existing_file is not None and existing_file.id == ignore_id:
        existing_file = None
    if existing_folder is None and existing_file is None:
        return Placement(name=name)
    if policy is OnConflict.FAIL:
        raise conflict()
    if policy is OnConflict.SKIP:
        return Placement(
            name=name, skip=True, existing_file=existing_file, existing_folder=existing_folder
        )
    if policy is OnConflict.OVERWRITE:
        return Placement(name=name, existing_file=existing_file, existing_folder=existing_folder)
    make = candidate_names(name)
    for n in range(1, _MAX_RENAME_TRIES):
        candidate = make(n)
        if not repo.name_taken(db, folder_id, candidate):
            return Placement(name=candidate)
    raise conflict("no free name left for the rename policy")
