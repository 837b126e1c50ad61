"""``/api/drive/quota`` (the caller's usage) and ``/api/drive/quotas...`` (administrators), and
``/api/drive/search``. Rules and shapes: ``docs/drive-api.md`` (Quotas, Search)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cordvault.drive import quotas, search
from cordvault.drive.api_models import FileOut, FolderOut, QuotaIn, QuotaOut, SearchOut
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/drive", tags=["quotas and search"])


def _out(u: quotas.Usage) -> QuotaOut:
    setting = "default" if u.own_limit is None else "unlimited" if u.own_limit < 0 else "custom"
    return QuotaOut(
        user=u.name,
        user_id=u.user_id,
        limit=u.limit,
        setting=setting,
        used=u.used,
        files=u.files,
        trash=u.trash,
        versions=u.versions,
        reserved=u.reserved,
        available=None if u.limit is None else max(0, u.limit - u.used),
    )


@router.get("/quota")
def my_quota(actor: CurrentUser, drive: DriveDep, db: SessionDep) -> QuotaOut:
    """The caller's usage (files incl. trash, versions, uploads in progress) and limit."""
    return _out(quotas.my_usage(drive, db, actor))


@router.get("/quotas")
def all_quotas(actor: CurrentUser, drive: DriveDep, db: SessionDep) -> list[QuotaOut]:
    """Every account's usage and limit (administrators)."""
    return [_out(u) for u in quotas.all_usage(drive, db, actor)]


@router.put("/quotas/{user_name}")
def set_quota(
    user_name: str, body: QuotaIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> QuotaOut:
    """Set an account's quota: bytes, ``"unlimited"`` or ``"default"`` (administrators)."""
    return _out(quotas.set_quota(drive, db, actor, user_name, body.limit))


@router.get("/search")
def search_names(
    actor: CurrentUser,
    db: SessionDep,
    q: str = Query(max_length=search.MAX_QUERY),
    kind: str | None = Query(None, pattern="^(file|folder)$"),
    type: str | None = Query(None, max_length=255),
    min_size: int | None = Query(None, ge=0, le=1 << 62),
    max_size: int | None = Query(None, ge=0, le=1 << 62),
    limit: int = Query(50, ge=1, le=search.MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> SearchOut:
    """Files and folders whose name contains ``q`` (case- and accent-insensitive)."""
    hits = search.search(
        db,
        actor,
        q,
        kind=kind,
        mime=type,
        min_size=min_size,
        max_size=max_size,
        limit=limit,
        offset=offset,
    )
    items: list[FolderOut | FileOut] = []
    for kind_, item_id in hits.order:
        if kind_ == "folder" and item_id in hits.folders:
            items.append(FolderOut.of(hits.folders[item_id]))
        elif item_id in hits.files:
            items.append(FileOut.of(hits.files[item_id], hits.levels[item_id]))
    return SearchOut(items=items, limit=limit, offset=offset, has_more=hits.has_more)
