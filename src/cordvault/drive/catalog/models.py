"""The catalog writer's own bookkeeping tables (never part of a snapshot).

``drive_catalog_lease``: one row naming the process that writes snapshots and the journal
(several API processes share one database; exactly one writes at a time). ``drive_catalog_
objects``: every object the writers stored (record heads and snapshot parts), in storage order,
so retention can delete old ones without scanning the backend, including the parts of a
snapshot whose writer died before its head was stored. ``drive_catalog_changes``: the change
counter slots every catalog write bumps (:mod:`cordvault.drive.catalog.changes`).

Both tables carry ``info={"catalog": False}``: :mod:`cordvault.drive.catalog.tables` leaves
them (and any other table so marked) out of snapshots.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cordvault.db.base import Base
from cordvault.drive.models import UTCDateTime, utcnow


class CatalogLease(Base):
    """Who writes the catalog until ``expires_at`` (renewed at every journal tick)."""

    __tablename__ = "drive_catalog_lease"
    __table_args__ = {"info": {"catalog": False}}  # noqa: RUF012 - SQLAlchemy's table args

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogObject(Base):
    """One stored catalog object; ``id`` orders them as they were stored."""

    __tablename__ = "drive_catalog_objects"
    __table_args__ = {"info": {"catalog": False}}  # noqa: RUF012 - SQLAlchemy's table args

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record: Mapped[str] = mapped_column(String(64), index=True)
    """``<epoch>:<seq>:<kind>``: the record the object belongs to."""
    role: Mapped[str] = mapped_column(String(8))
    """``head`` (the named, findable object) or ``part`` (a piece of a large body)."""
    kind: Mapped[str] = mapped_column(String(16))
    """``snapshot`` or ``journal``."""
    locator: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogChanges(Base):
    """One change counter slot, bumped by triggers (:mod:`cordvault.drive.catalog.changes`)."""

    __tablename__ = "drive_catalog_changes"
    __table_args__ = {"info": {"catalog": False}}  # noqa: RUF012 - SQLAlchemy's table args

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    xact: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """PostgreSQL: the transaction that last bumped the slot (one bump per transaction)."""
