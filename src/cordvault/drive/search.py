"""Search files and folders by name: case- and accent-insensitive substring, paged.

What is searched: every name in the live tree (trashed items never match), which is what any
signed-in user may list (:mod:`cordvault.drive.access`); each file hit carries the caller's
access level, as in a listing. Filters: ``kind`` (``file``/``folder``), ``type`` (a MIME major
type such as ``image``, or a full type ``image/png``), ``min_size``/``max_size`` (files).

The index (docs/drive-api.md shows both query plans): names are reduced to ``name_key``
(:func:`cordvault.drive.names.search_key`: NFKD, combining marks dropped, case-folded), the
query the same way, and
- PostgreSQL: ``name_key LIKE '%q%'`` served by a ``pg_trgm`` GIN index on each table;
- SQLite: an FTS5 ``trigram`` index (``drive_search_fts``) over ``drive_search`` (item id ->
  name key, kept by triggers), queried with a phrase ``MATCH``, which for the trigram tokenizer
  is a substring match.
A query of 1-2 characters (after reduction) has no trigram: it scans the names (still bounded
by the page size on a hit-rich tree). The query is 1-200 characters and always travels as a
bound parameter, never formatted into SQL. Results come in name order, one page (``limit`` up
to 200) plus ``has_more``: no total count, which would cost a full count on a broad query.
Each table is read with the cheaper of two plans (:func:`_page`), so a query matching a
tenth of a million names is as quick as one matching ten.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.models import ROOT_ID, TRASH_ID, DriveFile, Folder
from cordvault.drive.names import search_key
from cordvault.drive.paging import check_page

MAX_QUERY = 200
MAX_PAGE = 200
KINDS = ("file", "folder")


@dataclass(frozen=True)
class Hits:
    folders: dict[str, Folder]
    files: dict[str, DriveFile]
    order: list[tuple[str, str]]
    """``(kind, id)`` in result order."""
    levels: dict[str, Access]
    has_more: bool


def _like_pattern(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase(key: str) -> str:
    """An FTS5 phrase of the key: in double quotes, inner quotes doubled (bound, not SQL)."""
    return '"' + key.replace('"', '""') + '"'


def _matches(
    db: Session, column: InstrumentedAttribute[str], id_column: InstrumentedAttribute[str], key: str
) -> ColumnElement[bool]:
    if db.get_bind().dialect.name == "sqlite" and len(key) >= 3:
        fts = text(
            "SELECT s.item_id FROM drive_search AS s WHERE s.rowid IN "
            "(SELECT rowid FROM drive_search_fts WHERE drive_search_fts MATCH :phrase)"
        ).bindparams(phrase=_phrase(key))
        return id_column.in_(fts)
    return column.like(_like_pattern(key), escape="\\")


BROAD = 2000
"""A query with at least this many matches in a table is *broad* (see :func:`_page`)."""


def _page(
    db: Session,
    model: type[Folder] | type[DriveFile],
    kind: str,
    key: str,
    filters: list[ColumnElement[bool]],
    want: int,
) -> list[tuple[str, str, str]]:
    """The first ``want`` matches of one table in name order, ``(name_key, kind, id)``.

    Two plans. On SQLite they are picked per query by a bounded probe of the trigram index
    (at most :data:`BROAD` index hits); on PostgreSQL the planner picks between the same two
    from its statistics (the SQL is the same for both there). A *narrow* query fetches its
    few matches from the trigram index and sorts them; a *broad* one (thousands of matches:
    sorting them all would dominate) walks the ``(name_key, id)`` B-tree index in name order
    and stops after ``want`` matches, which dense hits make short. Either way the work is
    bounded, not proportional to the table or to the number of matches."""
    match = _matches(db, model.name_key, model.id, key)
    if db.get_bind().dialect.name != "sqlite":
        # PostgreSQL's planner makes this choice itself from the trigram statistics, on the
        # one query below (docs/drive-api.md shows both plans): no probe needed.
        broad = True
    else:
        broad = _hits_up_to(db, model, key, match, BROAD) >= BROAD
    cond = model.name_key.like(_like_pattern(key), escape="\\") if broad else match
    stmt = (
        select(model.name_key, model.id)
        .where(cond, *filters)
        .order_by(model.name_key, model.id)
        .limit(want)
    )
    return [(str(n), kind, str(i)) for n, i in db.execute(stmt)]


def _hits_up_to(
    db: Session,
    model: type[Folder] | type[DriveFile],
    key: str,
    match: ColumnElement[bool],
    cap: int,
) -> int:
    """How many names match (SQLite), counting no further than ``cap``: the FTS index itself
    (it yields matches one by one, so ``LIMIT`` stops it early; files and folders together: an
    estimate is all the plan choice needs); ``id IN (...)`` would first collect every match.
    Queries under 3 characters have no trigram: a bounded scan."""
    if db.get_bind().dialect.name == "sqlite" and len(key) >= 3:
        probe = text(
            "SELECT count(*) FROM (SELECT rowid FROM drive_search_fts "
            "WHERE drive_search_fts MATCH :phrase LIMIT :cap)"
        ).bindparams(phrase=_phrase(key), cap=cap)
        return int(db.scalar(probe) or 0)
    sub = select(model.id).where(match).limit(cap).subquery()
    return int(db.scalar(select(func.count()).select_from(sub)) or 0)


def search(
    db: Session,
    actor: Actor,
    query: str,
    *,
    kind: str | None = None,
    mime: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Hits:
    """One page of the live entries whose name contains ``query`` (see the module docstring)."""
    key = search_key(query or "").strip()
    if not key or len(query) > MAX_QUERY:
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"q must be 1-{MAX_QUERY} characters")
    if kind is not None and kind not in KINDS:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "kind must be 'file' or 'folder'")
    if mime is not None and not 1 <= len(mime) <= 255:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "type must be 1-255 characters")
    for bound in (min_size, max_size):
        if bound is not None and not 0 <= bound <= 1 << 62:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "sizes must be 0 to 2^62")
    check_page(limit, offset, max_limit=MAX_PAGE)
    want = offset + limit + 1
    found: list[tuple[str, str, str]] = []  # (name_key, kind, id)
    files_only = mime is not None or min_size is not None or max_size is not None
    if kind in (None, "folder") and not files_only:
        live: list[ColumnElement[bool]] = [
            Folder.trash_id.is_(None),
            Folder.id.not_in((ROOT_ID, TRASH_ID)),
        ]
        found += _page(db, Folder, "folder", key, live, want)
    if kind in (None, "file"):
        filters: list[ColumnElement[bool]] = [DriveFile.trash_id.is_(None)]
        if mime is not None:
            mime = mime.lower()
            filters.append(
                DriveFile.mime_type == mime
                if "/" in mime
                else DriveFile.mime_type.like(_like_pattern(mime)[1:-1] + "/%", escape="\\")
            )
        if min_size is not None:
            filters.append(DriveFile.size >= min_size)
        if max_size is not None:
            filters.append(DriveFile.size <= max_size)
        found += _page(db, DriveFile, "file", key, filters, want)
    # Merge the tables' name-ordered pages; one more than asked tells whether more exist.
    page = [(k, i) for _name, k, i in sorted(found, key=lambda r: (r[0], r[2]))[offset:want]]
    order = page[:limit]
    folder_ids = [i for k, i in order if k == "folder"]
    file_ids = [i for k, i in order if k == "file"]
    folders = {f.id: f for f in db.scalars(select(Folder).where(Folder.id.in_(folder_ids)))}
    files = {f.id: f for f in db.scalars(select(DriveFile).where(DriveFile.id.in_(file_ids)))}
    levels = access.file_levels(db, actor, list(files.values()))
    return Hits(folders, files, order, levels, has_more=len(page) > limit)
