"""SQL of the preview table (the rest of the drive's SQL is in ``drive/repository.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from cordvault.drive.models import DriveFile
from cordvault.drive.previews.models import NONE, RUNNING, Preview

PREVIEWABLE_PREFIXES = ("image/", "video/")
PREVIEWABLE_TYPES = ("application/pdf",)


def _previewable() -> object:
    return or_(
        *(DriveFile.mime_type.like(f"{p}%") for p in PREVIEWABLE_PREFIXES),
        DriveFile.mime_type.in_(PREVIEWABLE_TYPES),
    )


def preview(db: Session, file_id: str, *, for_update: bool = False) -> Preview | None:
    return db.get(Preview, file_id, with_for_update=for_update)


def work(db: Session, now: datetime, limit: int | None) -> list[str]:
    """Ids of previewable files with no preview for their current content, or whose run's
    lease expired (the claim retries it, or gives it up after its last attempt: a run that
    killed its worker every time must end in "no thumbnail", not stay ``running``)."""
    stmt = (
        select(DriveFile.id)
        .outerjoin(Preview, Preview.file_id == DriveFile.id)
        .where(
            _previewable(),  # type: ignore[arg-type]
            or_(
                Preview.file_id.is_(None),
                Preview.content_version != DriveFile.content_version,
                and_(Preview.state == RUNNING, Preview.lease_until < now),
            ),
        )
        .order_by(DriveFile.updated_at.desc())
        .limit(limit)
    )
    return list(db.scalars(stmt))


def running(db: Session, now: datetime) -> bool:
    """Whether some run holds a live lease."""
    stmt = select(Preview.file_id).where(Preview.state == RUNNING, Preview.lease_until >= now)
    return db.scalar(stmt.limit(1)) is not None


def claim(db: Session, row: Preview, version: int, lease_until: datetime, now: datetime) -> bool:
    """Take ``row`` for a run on content ``version`` if nobody changed it since it was read
    (compare-and-set on the state, version, attempts and lease)."""
    stmt = (
        update(Preview)
        .where(
            Preview.file_id == row.file_id,
            Preview.state == row.state,
            Preview.content_version == row.content_version,
            Preview.attempts == row.attempts,
        )
        .values(
            state=RUNNING,
            content_version=version,
            attempts=(row.attempts + 1) if row.content_version == version else 1,
            lease_until=lease_until,
            content_id=None,
            wrapped_key=None,
            chunk_size=None,
            list_bytes=0,
            grid_bytes=0,
            etag=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return db.execute(stmt).rowcount == 1  # type: ignore[attr-defined,no-any-return]


def orphans(db: Session, limit: int) -> list[Preview]:
    """Preview rows whose file is gone."""
    stmt = (
        select(Preview)
        .outerjoin(DriveFile, DriveFile.id == Preview.file_id)
        .where(DriveFile.id.is_(None))
        .limit(limit)
    )
    return list(db.scalars(stmt))


def forget(db: Session, file_ids: Sequence[str]) -> None:
    db.execute(delete(Preview).where(Preview.file_id.in_(file_ids)))


def reset_none(db: Session) -> int:
    """Let every "no preview" file be tried again (``cordvault drive thumbnails --retry``)."""
    result = db.execute(delete(Preview).where(Preview.state == NONE))
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


def count_by_state(db: Session) -> dict[str, int]:
    rows = db.execute(select(Preview.state, func.count()).group_by(Preview.state))
    return {state: int(n) for state, n in rows}
