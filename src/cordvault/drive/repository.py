"""All SQL of the drive domain. Functions take a Session and never commit (the caller does).

Row locking: ``for_update=True`` uses ``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite serialises
writers already) so two API processes completing the same upload, or renaming into the same
folder, see each other's effect instead of racing. :func:`lock_folder_tree` serialises every
change of a folder's parent (see :mod:`cordvault.drive.folders`). Tree walks are single
recursive queries that end even on a stored cycle.

Size: past ~450 lines on purpose: "all SQL in one module" is the rule that keeps queries
reviewable in one place; the sections below (users, folders, files, uploads, shares, GC, app
passwords) are independent and short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, delete, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from cordvault.drive.models import (
    ROOT_ID,
    AppPassword,
    Chunk,
    DavProperty,
    DriveBootstrap,
    DriveFile,
    DriveUser,
    FileVersion,
    Folder,
    FolderLink,
    FolderShare,
    GarbageChunk,
    Link,
    Share,
    TrashEntry,
    Upload,
)

# -- users ---------------------------------------------------------------------------------


def count_users(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(DriveUser)) or 0)


def user_by_id(db: Session, user_id: int) -> DriveUser | None:
    return db.get(DriveUser, user_id)


def user_by_name(db: Session, name: str) -> DriveUser | None:
    return db.scalar(select(DriveUser).where(DriveUser.name == name))


def list_users(db: Session, *, query: str | None, limit: int, offset: int) -> list[DriveUser]:
    stmt = select(DriveUser).order_by(DriveUser.name).limit(limit).offset(offset)
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(DriveUser.name.ilike(f"%{escaped}%", escape="\\"))
    return list(db.scalars(stmt))


def add(db: Session, row: object) -> None:
    db.add(row)
    db.flush()


def claim_bootstrap(db: Session, key: str) -> None:
    """Insert the one-time row ``key``; a second claim raises ``IntegrityError`` on flush."""
    db.add(DriveBootstrap(key=key))
    db.flush()


# -- folders -------------------------------------------------------------------------------


def folder(db: Session, folder_id: str, *, for_update: bool = False) -> Folder | None:
    return db.get(Folder, folder_id, with_for_update=for_update)


def child_folder(db: Session, parent_id: str, name: str) -> Folder | None:
    return db.scalar(select(Folder).where(Folder.parent_id == parent_id, Folder.name == name))


def child_file(db: Session, folder_id: str, name: str) -> DriveFile | None:
    return db.scalar(
        select(DriveFile).where(DriveFile.folder_id == folder_id, DriveFile.name == name)
    )


def name_taken(db: Session, folder_id: str, name: str) -> bool:
    return (
        child_folder(db, folder_id, name) is not None or child_file(db, folder_id, name) is not None
    )


def subfolders(db: Session, parent_id: str) -> list[Folder]:
    return list(db.scalars(select(Folder).where(Folder.parent_id == parent_id)))


def folder_files(db: Session, folder_id: str) -> list[DriveFile]:
    return list(db.scalars(select(DriveFile).where(DriveFile.folder_id == folder_id)))


def lock_folder_tree(db: Session) -> None:
    """Serialise changes of the tree's shape: held until the transaction ends.

    PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on the root folder's row (it conflicts with
    itself but not with the ``KEY SHARE`` locks that inserting a child of the root takes).
    SQLite: a no-op ``UPDATE`` of that row, which takes the database's one write lock (waiting
    up to the busy timeout). pysqlite opens a transaction only at the first write, so every read
    after this one sees the latest committed tree and nobody can commit until we do.
    """
    if db.get_bind().dialect.name == "sqlite":
        db.execute(
            update(Folder)
            .where(Folder.id == ROOT_ID)
            .values(parent_id=Folder.parent_id)
            .execution_options(synchronize_session=False)
        )
    else:
        db.execute(select(Folder.id).where(Folder.id == ROOT_ID).with_for_update(key_share=True))


def ancestor_rows(db: Session, folder_id: str, limit: int) -> list[tuple[str, str | None, str]]:
    """``(id, parent_id, name)`` of ``folder_id`` and its ancestors, nearest first, in one
    statement (one snapshot). At most ``limit + 1`` rows, so a stored cycle still ends; the
    caller tells a cycle (an id twice) or an over-deep chain from a good one."""
    depth = literal_column("0", Integer).label("depth")
    start = select(Folder.id, Folder.parent_id, Folder.name, depth).where(Folder.id == folder_id)
    up = start.cte("up", recursive=True)
    up = up.union_all(
        select(Folder.id, Folder.parent_id, Folder.name, (up.c.depth + 1).label("depth"))
        .join(up, Folder.id == up.c.parent_id)
        .where(up.c.depth < limit)
    )
    rows = db.execute(select(up.c.id, up.c.parent_id, up.c.name).order_by(up.c.depth))
    return [(str(i), p, str(n)) for i, p, n in rows]


def subtree_edges(db: Session, root_id: str) -> list[tuple[str, str | None]]:
    """``(id, parent_id)`` of ``root_id`` and every folder below it, in one statement (one
    snapshot), in no particular order. ``UNION`` drops repeated rows, so the query ends even
    when the stored tree has a cycle below ``root_id``."""
    start = select(Folder.id, Folder.parent_id).where(Folder.id == root_id)
    down = start.cte("down", recursive=True)
    down = down.union(select(Folder.id, Folder.parent_id).join(down, Folder.parent_id == down.c.id))
    return [(str(i), p) for i, p in db.execute(select(down.c.id, down.c.parent_id))]


def all_folder_edges(db: Session) -> list[tuple[str, str | None, datetime]]:
    """``(id, parent_id, updated_at)`` of every folder (``drive doctor``)."""
    stmt = select(Folder.id, Folder.parent_id, Folder.updated_at)
    return [(str(i), p, u) for i, p, u in db.execute(stmt)]


def count_children(db: Session, folder_id: str) -> tuple[int, int]:
    folders = db.scalar(select(func.count()).where(Folder.parent_id == folder_id))
    files = db.scalar(select(func.count()).where(DriveFile.folder_id == folder_id))
    return int(folders or 0), int(files or 0)


_FOLDER_SORT = {"name": Folder.name, "created": Folder.created_at, "updated": Folder.updated_at}
_FILE_SORT = {
    "name": DriveFile.name,
    "created": DriveFile.created_at,
    "updated": DriveFile.updated_at,
    "size": DriveFile.size,
    "type": DriveFile.mime_type,
}


def page_folders(
    db: Session, parent_id: str, *, sort: str, desc: bool, limit: int, offset: int
) -> list[Folder]:
    col = _FOLDER_SORT.get(sort, Folder.name)
    stmt = (
        select(Folder)
        .where(Folder.parent_id == parent_id)
        .order_by(col.desc() if desc else col.asc(), Folder.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))


def page_files(
    db: Session, folder_id: str, *, sort: str, desc: bool, limit: int, offset: int
) -> list[DriveFile]:
    col = _FILE_SORT.get(sort, DriveFile.name)
    stmt = (
        select(DriveFile)
        .where(DriveFile.folder_id == folder_id)
        .order_by(col.desc() if desc else col.asc(), DriveFile.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))


def listing_files(db: Session, folder_id: str) -> list[Any]:
    """Every file of a folder by name, as rows of the columns a listing shows (no ORM
    objects: a folder may hold tens of thousands)."""
    stmt = (
        select(
            DriveFile.id,
            DriveFile.folder_id,
            DriveFile.name,
            DriveFile.size,
            DriveFile.mime_type,
            DriveFile.content_version,
            DriveFile.sha256,
            DriveFile.created_at,
            DriveFile.updated_at,
            DriveFile.owner_id,
            DriveFile.public,
        )
        .where(DriveFile.folder_id == folder_id)
        .order_by(DriveFile.name, DriveFile.id)
    )
    return list(db.execute(stmt).all())


def file_shares_in_folder(db: Session, user_id: int, folder_id: str) -> dict[str, str]:
    """``{file id: access}`` of the shares ``user_id`` holds on files of one folder."""
    stmt = (
        select(Share.file_id, Share.access)
        .join(DriveFile, DriveFile.id == Share.file_id)
        .where(Share.user_id == user_id, DriveFile.folder_id == folder_id)
    )
    return dict(db.execute(stmt).all())


def usage_by_type(db: Session, folder_ids: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(mime_type, file count, total bytes)`` over the given folders."""
    rows: list[tuple[str, int, int]] = []
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        stmt = (
            select(DriveFile.mime_type, func.count(), func.coalesce(func.sum(DriveFile.size), 0))
            .where(DriveFile.folder_id.in_(part))
            .group_by(DriveFile.mime_type)
        )
        rows.extend((str(m), int(c), int(s)) for m, c, s in db.execute(stmt))
    return rows


def delete_folders(db: Session, folder_ids: Sequence[str]) -> None:
    """Delete folders, deepest first (``folder_ids`` parents before children)."""
    for folder_id in reversed(folder_ids):
        db.execute(delete(Folder).where(Folder.id == folder_id))


def grant_chain(
    db: Session, folder_id: str, limit: int
) -> list[tuple[str, int | None, bool, str | None]]:
    """``(id, owner_id, public, trash_id)`` of ``folder_id`` and its ancestors, in one bounded
    recursive statement (what inherited access is computed from)."""
    depth = literal_column("0", Integer).label("depth")
    cols = (Folder.id, Folder.parent_id, Folder.owner_id, Folder.public, Folder.trash_id)
    up = select(*cols, depth).where(Folder.id == folder_id).cte("grant_up", recursive=True)
    up = up.union_all(
        select(*cols, (up.c.depth + 1).label("depth"))
        .join(up, Folder.id == up.c.parent_id)
        .where(up.c.depth < limit)
    )
    rows = db.execute(select(up.c.id, up.c.owner_id, up.c.public, up.c.trash_id))
    return [(str(i), o, bool(p), t) for i, o, p, t in rows]


def folder_facts(
    db: Session, folder_ids: Sequence[str]
) -> dict[str, tuple[str | None, int | None, bool, str | None]]:
    """``id -> (parent_id, owner_id, public, trash_id)`` for the given folders."""
    out: dict[str, tuple[str | None, int | None, bool, str | None]] = {}
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        stmt = select(
            Folder.id, Folder.parent_id, Folder.owner_id, Folder.public, Folder.trash_id
        ).where(Folder.id.in_(part))
        for i, p, o, pub, t in db.execute(stmt):
            out[str(i)] = (p, o, bool(pub), t)
    return out


def folder_shares_for_user(db: Session, user_id: int, folder_ids: Sequence[str]) -> dict[str, str]:
    """``folder_id -> access`` of the user's folder shares among ``folder_ids``."""
    out: dict[str, str] = {}
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        stmt = select(FolderShare.folder_id, FolderShare.access).where(
            FolderShare.user_id == user_id, FolderShare.folder_id.in_(part)
        )
        out.update({str(f): str(a) for f, a in db.execute(stmt)})
    return out


def folder_share(db: Session, folder_id: str, user_id: int) -> FolderShare | None:
    return db.get(FolderShare, (folder_id, user_id))


def folder_shares_of(db: Session, folder_id: str) -> list[tuple[FolderShare, str]]:
    stmt = (
        select(FolderShare, DriveUser.name)
        .join(DriveUser, DriveUser.id == FolderShare.user_id)
        .where(FolderShare.folder_id == folder_id)
        .order_by(DriveUser.name)
    )
    return [(s, n) for s, n in db.execute(stmt).all()]


def delete_folder_share(db: Session, folder_id: str, user_id: int) -> bool:
    result = db.execute(
        delete(FolderShare).where(
            FolderShare.folder_id == folder_id, FolderShare.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def folders_shared_with(db: Session, user_id: int, limit: int, offset: int) -> list[Folder]:
    stmt = (
        select(Folder)
        .join(FolderShare, FolderShare.folder_id == Folder.id)
        .where(FolderShare.user_id == user_id, Folder.trash_id.is_(None))
        .order_by(Folder.name, Folder.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))


def folder_link(db: Session, link_id: str) -> FolderLink | None:
    return db.get(FolderLink, link_id)


def active_folder_links(db: Session, folder_id: str, now: datetime) -> list[FolderLink]:
    stmt = (
        select(FolderLink)
        .where(
            FolderLink.folder_id == folder_id,
            FolderLink.revoked_at.is_(None),
            or_(FolderLink.expires_at.is_(None), FolderLink.expires_at > now),
        )
        .order_by(FolderLink.created_at)
    )
    return list(db.scalars(stmt))


def delete_folder_rows(db: Session, folder_ids: Sequence[str]) -> None:
    """Delete folders and what hangs off them (shares, links), deepest first."""
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        db.execute(delete(FolderShare).where(FolderShare.folder_id.in_(part)))
        db.execute(delete(FolderLink).where(FolderLink.folder_id.in_(part)))
    delete_folders(db, folder_ids)


# -- files, chunks -------------------------------------------------------------------------


def file(db: Session, file_id: str, *, for_update: bool = False) -> DriveFile | None:
    return db.get(DriveFile, file_id, with_for_update=for_update)


def files_in(db: Session, folder_ids: Sequence[str]) -> list[DriveFile]:
    out: list[DriveFile] = []
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        out.extend(db.scalars(select(DriveFile).where(DriveFile.folder_id.in_(part))))
    return out


def chunks(db: Session, content_id: str) -> list[Chunk]:
    return list(db.scalars(select(Chunk).where(Chunk.content_id == content_id).order_by(Chunk.idx)))


def chunk(db: Session, content_id: str, idx: int) -> Chunk | None:
    return db.get(Chunk, (content_id, idx))


def chunk_indexes(db: Session, content_id: str) -> list[int]:
    stmt = select(Chunk.idx).where(Chunk.content_id == content_id).order_by(Chunk.idx)
    return list(db.scalars(stmt))


def content_stats(db: Session, content_id: str) -> tuple[int, int]:
    """``(chunk count, total plaintext bytes)`` of a content."""
    row = db.execute(
        select(func.count(), func.coalesce(func.sum(Chunk.plain_size), 0)).where(
            Chunk.content_id == content_id
        )
    ).one()
    return int(row[0]), int(row[1])


def drop_content(db: Session, content_id: str, not_before: datetime) -> int:
    """Move a content's chunk locators to the GC queue; returns how many."""
    locators = list(db.scalars(select(Chunk.locator).where(Chunk.content_id == content_id)))
    queue_garbage(db, locators, not_before)
    db.execute(delete(Chunk).where(Chunk.content_id == content_id))
    return len(locators)


def delete_file_row(db: Session, row: DriveFile) -> None:
    # Explicit deletes rather than relying on ON DELETE CASCADE: SQLite only honours it with
    # foreign keys on, and a missed cascade would leave live shares/links pointing nowhere.
    db.execute(delete(Share).where(Share.file_id == row.id))
    db.execute(delete(Link).where(Link.file_id == row.id))
    db.execute(delete(FileVersion).where(FileVersion.file_id == row.id))
    db.execute(delete(DriveFile).where(DriveFile.id == row.id))


# -- versions ------------------------------------------------------------------------------


def versions_of(db: Session, file_id: str) -> list[FileVersion]:
    """A file's kept versions, newest first."""
    stmt = (
        select(FileVersion)
        .where(FileVersion.file_id == file_id)
        .order_by(FileVersion.replaced_at.desc(), FileVersion.content_version.desc())
    )
    return list(db.scalars(stmt))


def version(db: Session, version_id: str) -> FileVersion | None:
    return db.get(FileVersion, version_id)


def versions_replaced_before(db: Session, before: datetime, limit: int) -> list[FileVersion]:
    stmt = (
        select(FileVersion)
        .where(FileVersion.replaced_at < before)
        .order_by(FileVersion.replaced_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(stmt))


# -- trash ---------------------------------------------------------------------------------


def lock_row(db: Session, table: type[TrashEntry] | type[DriveUser], key: object) -> bool:
    """Lock one row until the transaction ends, whatever the database: a no-op ``UPDATE``
    (PostgreSQL: a row lock; SQLite: the database's write lock, so reads after it are fresh).
    False when the row does not exist (any more)."""
    pk = table.id  # both tables have an ``id`` primary key
    result = db.execute(
        update(table).where(pk == key).values(id=pk).execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def trash_entry(db: Session, entry_id: str) -> TrashEntry | None:
    return db.scalar(
        select(TrashEntry)
        .where(TrashEntry.id == entry_id)
        .execution_options(populate_existing=True)
    )


def trash_of(db: Session, owner_id: int, limit: int, offset: int) -> list[TrashEntry]:
    stmt = (
        select(TrashEntry)
        .where(TrashEntry.owner_id == owner_id)
        .order_by(TrashEntry.trashed_at.desc(), TrashEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))


def count_trash(db: Session, owner_id: int) -> int:
    stmt = select(func.count()).where(TrashEntry.owner_id == owner_id)
    return int(db.scalar(stmt) or 0)


def trash_ids_before(db: Session, before: datetime, limit: int) -> list[str]:
    stmt = (
        select(TrashEntry.id)
        .where(TrashEntry.trashed_at < before)
        .order_by(TrashEntry.trashed_at)
        .limit(limit)
    )
    return [str(i) for i in db.scalars(stmt)]


def trash_ids_of(db: Session, owner_id: int) -> list[str]:
    return [
        str(i) for i in db.scalars(select(TrashEntry.id).where(TrashEntry.owner_id == owner_id))
    ]


def delete_entry(db: Session, entry: TrashEntry) -> None:
    db.execute(delete(TrashEntry).where(TrashEntry.id == entry.id))


def mark_trashed(db: Session, folder_ids: Sequence[str], entry_id: str | None) -> None:
    """Set (or, with None, clear) ``trash_id`` on the folders and the files in them."""
    for start in range(0, len(folder_ids), 500):
        part = folder_ids[start : start + 500]
        db.execute(
            update(Folder)
            .where(Folder.id.in_(part))
            .values(trash_id=entry_id)
            .execution_options(synchronize_session=False)
        )
        db.execute(
            update(DriveFile)
            .where(DriveFile.folder_id.in_(part))
            .values(trash_id=entry_id)
            .execution_options(synchronize_session=False)
        )


# -- quotas --------------------------------------------------------------------------------


def stored_bytes(db: Session, owner_ids: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
    """``owner -> (bytes of files, bytes of those in the trash)``."""
    trashed = func.coalesce(
        func.sum(case((DriveFile.trash_id.is_not(None), DriveFile.size), else_=0)), 0
    )
    stmt = select(DriveFile.owner_id, func.coalesce(func.sum(DriveFile.size), 0), trashed)
    if owner_ids is not None:
        stmt = stmt.where(DriveFile.owner_id.in_(owner_ids))
    rows = db.execute(stmt.group_by(DriveFile.owner_id))
    return {int(o): (int(s), int(t)) for o, s, t in rows}


def version_bytes(db: Session, owner_ids: Sequence[int] | None = None) -> dict[int, int]:
    """``owner -> bytes of the kept versions of their files``."""
    stmt = select(DriveFile.owner_id, func.coalesce(func.sum(FileVersion.size), 0)).join(
        DriveFile, DriveFile.id == FileVersion.file_id
    )
    if owner_ids is not None:
        stmt = stmt.where(DriveFile.owner_id.in_(owner_ids))
    return {int(o): int(s) for o, s in db.execute(stmt.group_by(DriveFile.owner_id))}


def reserved_bytes(db: Session, owner_ids: Sequence[int] | None = None) -> dict[int, int]:
    """``owner -> bytes declared by open upload sessions and received by streaming ones``."""
    stmt = select(Upload.owner_id, func.coalesce(func.sum(Upload.size), 0)).where(
        Upload.state.in_(("open", "streaming"))
    )
    if owner_ids is not None:
        stmt = stmt.where(Upload.owner_id.in_(owner_ids))
    return {int(o): int(s) for o, s in db.execute(stmt.group_by(Upload.owner_id))}


def usage_snapshot(db: Session, owner_id: int) -> int:
    """Files + versions + reserved bytes of one owner, in **one** statement (one snapshot)."""
    files = (
        select(func.coalesce(func.sum(DriveFile.size), 0))
        .where(DriveFile.owner_id == owner_id)
        .scalar_subquery()
    )
    versions = (
        select(func.coalesce(func.sum(FileVersion.size), 0))
        .join(DriveFile, DriveFile.id == FileVersion.file_id)
        .where(DriveFile.owner_id == owner_id)
        .scalar_subquery()
    )
    reserved = (
        select(func.coalesce(func.sum(Upload.size), 0))
        .where(Upload.owner_id == owner_id, Upload.state.in_(("open", "streaming")))
        .scalar_subquery()
    )
    return int(db.scalar(select(files + versions + reserved)) or 0)


def all_users(db: Session) -> list[DriveUser]:
    return list(db.scalars(select(DriveUser).order_by(DriveUser.name)))


# -- uploads -------------------------------------------------------------------------------


def upload(db: Session, upload_id: str, *, for_update: bool = False) -> Upload | None:
    return db.get(Upload, upload_id, with_for_update=for_update)


def expired_uploads(db: Session, now: datetime, limit: int) -> list[Upload]:
    stmt = (
        select(Upload)
        .where(Upload.state.in_(("open", "streaming")), Upload.expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(stmt))


def finished_uploads_before(db: Session, before: datetime) -> None:
    db.execute(
        delete(Upload).where(Upload.state.in_(("complete", "aborted")), Upload.expires_at < before)
    )


# -- shares, links -------------------------------------------------------------------------


def share(db: Session, file_id: str, user_id: int) -> Share | None:
    return db.get(Share, (file_id, user_id))


def shares_of(db: Session, file_id: str) -> list[tuple[Share, str]]:
    stmt = (
        select(Share, DriveUser.name)
        .join(DriveUser, DriveUser.id == Share.user_id)
        .where(Share.file_id == file_id)
        .order_by(DriveUser.name)
    )
    return [(s, n) for s, n in db.execute(stmt).all()]


def shares_for_user(db: Session, user_id: int, file_ids: Iterable[str]) -> dict[str, str]:
    ids = list(file_ids)
    if not ids:
        return {}
    stmt = select(Share.file_id, Share.access).where(
        Share.user_id == user_id, Share.file_id.in_(ids)
    )
    return dict(db.execute(stmt).all())


def files_shared_with(db: Session, user_id: int, limit: int, offset: int) -> list[DriveFile]:
    stmt = (
        select(DriveFile)
        .join(Share, Share.file_id == DriveFile.id)
        .where(Share.user_id == user_id)
        .order_by(DriveFile.name, DriveFile.id)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))


def delete_share(db: Session, file_id: str, user_id: int) -> bool:
    result = db.execute(delete(Share).where(Share.file_id == file_id, Share.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


def link(db: Session, link_id: str) -> Link | None:
    return db.get(Link, link_id)


def revoke_links(db: Session, file_id: str, now: datetime) -> int:
    result = db.execute(
        update(Link)
        .where(Link.file_id == file_id, Link.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0))


def active_links(db: Session, file_id: str, now: datetime) -> list[Link]:
    stmt = (
        select(Link)
        .where(
            Link.file_id == file_id,
            Link.revoked_at.is_(None),
            or_(Link.expires_at.is_(None), Link.expires_at > now),
        )
        .order_by(Link.created_at)
    )
    return list(db.scalars(stmt))


# -- garbage collection --------------------------------------------------------------------


def queue_garbage(db: Session, locators: Iterable[str], not_before: datetime) -> None:
    rows = [GarbageChunk(locator=loc, not_before=not_before, attempts=0) for loc in locators]
    if rows:
        db.add_all(rows)
        db.flush()


def due_garbage(db: Session, now: datetime, limit: int) -> list[GarbageChunk]:
    stmt = (
        select(GarbageChunk)
        .where(GarbageChunk.not_before <= now)
        .order_by(GarbageChunk.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(stmt))


def pending_garbage(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(GarbageChunk)) or 0)


def forget_garbage(db: Session, ids: Sequence[int]) -> None:
    if ids:
        db.execute(delete(GarbageChunk).where(GarbageChunk.id.in_(ids)))


# -- key rotation --------------------------------------------------------------------------


def files_after(db: Session, last_id: str, limit: int) -> list[DriveFile]:
    """Files with ids after ``last_id``, in id order (keyset paging)."""
    stmt = select(DriveFile).where(DriveFile.id > last_id).order_by(DriveFile.id).limit(limit)
    return list(db.scalars(stmt))


def open_uploads_after(db: Session, last_id: str, limit: int) -> list[Upload]:
    """Open upload sessions with ids after ``last_id``, in id order."""
    stmt = (
        select(Upload)
        .where(Upload.id > last_id, Upload.state == "open")
        .order_by(Upload.id)
        .limit(limit)
    )
    return list(db.scalars(stmt))


# -- app passwords, WebDAV dead properties -------------------------------------------------


def count_app_passwords(db: Session, user_id: int) -> int:
    stmt = select(func.count()).select_from(AppPassword).where(AppPassword.user_id == user_id)
    return int(db.scalar(stmt) or 0)


def app_passwords_of(db: Session, user_id: int) -> list[AppPassword]:
    stmt = (
        select(AppPassword)
        .where(AppPassword.user_id == user_id)
        .order_by(AppPassword.created_at.desc(), AppPassword.id)
    )
    return list(db.scalars(stmt))


def app_password(db: Session, app_password_id: str) -> AppPassword | None:
    return db.get(AppPassword, app_password_id)


def app_password_by_hash(db: Session, secret_hash: str) -> AppPassword | None:
    return db.scalar(select(AppPassword).where(AppPassword.secret_hash == secret_hash))


def delete_app_password(db: Session, row: AppPassword) -> None:
    db.execute(delete(AppPassword).where(AppPassword.id == row.id))


def live_app_password(db: Session, app_password_id: str, user_id: int) -> DriveUser | None:
    """The enabled account owning app password ``app_password_id``, in one query; None when
    the app password is gone or the account disabled."""
    stmt = (
        select(DriveUser)
        .join(AppPassword, AppPassword.user_id == DriveUser.id)
        .where(
            AppPassword.id == app_password_id,
            DriveUser.id == user_id,
            DriveUser.disabled.is_(False),
        )
    )
    return db.scalar(stmt)


def dav_props(db: Session, resource_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Dead properties of each resource id (absent ids have none)."""
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(resource_ids), 500):
        part = resource_ids[start : start + 500]
        stmt = select(DavProperty).where(DavProperty.resource_id.in_(part))
        for row in db.scalars(stmt):
            out.setdefault(row.resource_id, {})[row.name] = row.value
    return out


def set_dav_prop(db: Session, resource_id: str, name: str, value: str | None) -> None:
    """Set (or with ``None`` remove) one dead property."""
    row = db.get(DavProperty, (resource_id, name))
    if value is None:
        if row is not None:
            db.delete(row)
    elif row is None:
        db.add(DavProperty(resource_id=resource_id, name=name, value=value))
    else:
        row.value = value
    db.flush()


def delete_dav_props(db: Session, resource_ids: Sequence[str]) -> None:
    for start in range(0, len(resource_ids), 500):
        part = resource_ids[start : start + 500]
        db.execute(delete(DavProperty).where(DavProperty.resource_id.in_(part)))


def garbage_backlog(db: Session) -> int:
    """Entries of the garbage queue, due or not."""
    return int(db.scalar(select(func.count()).select_from(GarbageChunk)) or 0)
