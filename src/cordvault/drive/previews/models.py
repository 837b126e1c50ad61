"""The ``drive_previews`` table: one row per file that has (or is getting) thumbnails.

A row is bound to the file's ``content_version`` it was made for; a row for an older version
is stale (never served, replaced by the next run). ``state``: ``running`` (claimed by a worker
until ``lease_until``), ``ready`` (both sizes stored as one encrypted content: the list size's
``list_bytes`` first, then the grid size's ``grid_bytes``), ``none`` (the file has no preview:
unsupported, hostile, too large or failed ``MAX_ATTEMPTS`` times). No foreign key to the file:
deleting a file must not wait for previews; the worker's sweep deletes rows (and queues their
chunks for collection) whose file is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cordvault.db.base import Base
from cordvault.drive.models import UTCDateTime, utcnow

RUNNING = "running"
READY = "ready"
NONE = "none"


class Preview(Base):
    __tablename__ = "drive_previews"

    file_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    content_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    chunk_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    list_bytes: Mapped[int] = mapped_column(Integer, default=0)
    grid_bytes: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
