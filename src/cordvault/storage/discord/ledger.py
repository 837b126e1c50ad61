"""The Discord backend's durable records (its own tables on the ``storage`` Alembic branch).

- ``storage_discord_deletions``: one row per deleted chunk (message id + attachment index).
  ``delete`` writes it before anything else, so ``get`` answers "not found" at once and a crash
  before Discord deleted the message leaves a record the next run completes. A message is
  deleted from Discord once rows exist for all of its chunks; its rows go with it.
- ``storage_discord_pending``: one row per message being posted (channel, the random name of
  its first attachment, when). It is removed once the locators are handed back; a row that
  stays (crash, or an outcome Discord left unknown) marks a possible orphan message that the
  collector finds by that name and deletes.

Times are Unix seconds (floats): the records are short-lived bookkeeping, not user data.
Nothing in them is secret: ids and random names only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Float, Integer, String, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from cordvault.db.base import Base
from cordvault.storage.base import StorageUnavailable
from cordvault.storage.discord.locator import Locator


class DiscordDeletion(Base):
    """A chunk deleted by the drive whose message may still be on Discord."""

    __tablename__ = "storage_discord_deletions"

    message_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    bot: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class DiscordPendingPost(Base):
    """A message post in progress (or lost in a crash): the orphan collector's journal."""

    __tablename__ = "storage_discord_pending"

    marker: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    bot: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float, index=True)


@dataclass(frozen=True)
class DoomedMessage:
    """A message all of whose chunks are deleted: it may go from Discord now."""

    bot: int
    channel_id: str
    message_id: str


@dataclass(frozen=True)
class PendingPost:
    marker: str
    bot: int
    channel_id: str
    created_at: float


@contextmanager
def _guarded() -> Iterator[None]:
    """A database failure is a transient storage failure (the ledger is part of the store)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageUnavailable("the storage ledger database is unavailable") from exc


class Ledger:
    """Typed access to the two tables. Each method is its own short transaction; database
    failures raise :class:`~cordvault.storage.base.StorageUnavailable`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- deletions ---------------------------------------------------------------------------

    def record_deletion(self, loc: Locator) -> None:
        """Remember that ``loc`` is deleted (idempotent)."""
        row = DiscordDeletion(
            message_id=loc.message_id,
            idx=loc.index,
            channel_id=loc.channel_id,
            bot=loc.bot,
            count=loc.count,
            created_at=time.time(),
        )
        with _guarded():
            try:
                with self._sessions() as db, db.begin():
                    db.add(row)
            except IntegrityError:
                pass  # deleted twice: the first record stands

    def is_deleted(self, loc: Locator) -> bool:
        with _guarded(), self._sessions() as db:
            found = db.get(DiscordDeletion, (loc.message_id, loc.index))
            return found is not None

    def doomed_messages(self, limit: int = 500) -> list[DoomedMessage]:
        """Messages with a deletion row for every chunk they carry, oldest first."""
        query = (
            select(DiscordDeletion.bot, DiscordDeletion.channel_id, DiscordDeletion.message_id)
            .group_by(DiscordDeletion.bot, DiscordDeletion.channel_id, DiscordDeletion.message_id)
            .having(func.count() >= func.max(DiscordDeletion.count))
            .order_by(func.min(DiscordDeletion.created_at))
            .limit(limit)
        )
        with _guarded(), self._sessions() as db:
            return [DoomedMessage(b, c, m) for b, c, m in db.execute(query).all()]

    def forget_messages(self, message_ids: Iterable[str]) -> None:
        """Drop the rows of messages Discord no longer has."""
        ids = list(message_ids)
        if not ids:
            return
        with _guarded(), self._sessions() as db, db.begin():
            db.execute(delete(DiscordDeletion).where(DiscordDeletion.message_id.in_(ids)))

    def deletion_count(self) -> int:
        with _guarded(), self._sessions() as db:
            return int(db.scalar(select(func.count()).select_from(DiscordDeletion)) or 0)

    # -- pending posts -----------------------------------------------------------------------

    def begin_post(self, marker: str, bot: int, channel_id: str) -> None:
        with _guarded(), self._sessions() as db, db.begin():
            db.add(
                DiscordPendingPost(
                    marker=marker, bot=bot, channel_id=channel_id, created_at=time.time()
                )
            )

    def end_post(self, markers: Sequence[str]) -> None:
        if not markers:
            return
        with _guarded(), self._sessions() as db, db.begin():
            db.execute(delete(DiscordPendingPost).where(DiscordPendingPost.marker.in_(markers)))

    def stale_posts(self, older_than: float, limit: int = 200) -> list[PendingPost]:
        """Posts begun before ``older_than`` (Unix seconds) and never ended, oldest first."""
        query = (
            select(DiscordPendingPost)
            .where(DiscordPendingPost.created_at < older_than)
            .order_by(DiscordPendingPost.created_at)
            .limit(limit)
        )
        with _guarded(), self._sessions() as db:
            return [
                PendingPost(p.marker, p.bot, p.channel_id, p.created_at)
                for p in db.scalars(query).all()
            ]
