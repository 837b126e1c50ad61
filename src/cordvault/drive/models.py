"""Drive metadata tables: users, folders, files, chunk locators, uploads, shares, links, GC.

One global folder tree (every signed-in user may list it, as in the reference) rooted at the
folder with id :data:`ROOT_ID`. A file's bytes live in the chunk store as a *content*: the
encrypted chunks of one upload, identified by ``content_id`` (the id the chunk AEAD binds).
A file row points at exactly one complete content, so a file is visible only once every chunk
is stored; overwriting swaps the content and bumps ``content_version``.

Timestamps are timezone-aware UTC on every backend (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

from cordvault.db.base import Base
from cordvault.drive.names import search_key

ROOT_ID = "root"
"""Id of the one root folder (created by the first migration, owned by nobody)."""
TRASH_ID = "trash"
"""Id of the hidden folder trashed entries hang from (no parent, never listed; see
:mod:`cordvault.drive.trash`). Created by the trash migration."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime that always comes back timezone-aware UTC (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DriveUser(Base):
    """An account. ``token_version`` is embedded in tokens; bumping it revokes them all."""

    __tablename__ = "drive_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Storage quota: None = ``DRIVE_DEFAULT_QUOTA_BYTES``, -1 = unlimited, else bytes."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriveBootstrap(Base):
    """One row per one-time event; its primary key makes the first registration race-free."""

    __tablename__ = "drive_bootstrap"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInSession(Base):
    """A sign-in: one row per issued token (``kind="token"``, the bearer API and the CLI).

    Other front doors add their own kinds (a web page's cookie session is just another kind
    of row). A token names its row (``sid``); revoking the row ends the token at its next use.
    Nothing secret is stored: the token is signed, not kept.
    """

    __tablename__ = "drive_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("drive_users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    client_address: Mapped[str] = mapped_column(String(64))
    last_client_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255))


class SignInThrottle(Base):
    """Recent sign-in failures of one scope: an (account, client) pair, a client, an account.

    ``account_key`` is a keyed hash of the case-folded name typed (never the name: people type
    passwords into name fields), empty for the client scope; ``client`` is the throttled
    client address (an IPv6 client's /64), empty for the account scope.
    """

    __tablename__ = "drive_signin_throttle"
    # Throttle windows, not drive data: left out of disaster-recovery snapshots.
    __table_args__ = {"info": {"catalog": False}}  # noqa: RUF012 - SQLAlchemy's table args

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)


class SecurityEvent(Base):
    """One entry of the append-only security log (never a secret; see ``security_log``)."""

    __tablename__ = "drive_security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[str] = mapped_column(String(1024), default="{}")


class Folder(Base):
    """A folder of the global tree; names are unique among a folder's folders and files."""

    __tablename__ = "drive_folders"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("drive_folders.id"), nullable=True, index=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("drive_users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255), default="")
    """:func:`~cordvault.drive.names.search_key` of ``name``: what search matches."""
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    """Every signed-in user may read everything below (:mod:`cordvault.drive.access`)."""
    trash_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    """The trash entry this folder went away with (None: live)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("name")
    def _keep_key(self, _key: str, value: str) -> str:
        self.name_key = search_key(value)
        return value


class DriveFile(Base):
    """A complete, visible file: metadata plus a pointer to its stored content."""

    __tablename__ = "drive_files"
    __table_args__ = (UniqueConstraint("folder_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("drive_folders.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("drive_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(255))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str] = mapped_column(String(32), index=True)
    content_version: Mapped[int] = mapped_column(Integer, default=1)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    chunk_size: Mapped[int] = mapped_column(Integer)
    name_key: Mapped[str] = mapped_column(String(255), default="")
    """:func:`~cordvault.drive.names.search_key` of ``name``: what search matches."""
    trash_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    """The trash entry this file went away with (None: live)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("name")
    def _keep_key(self, _key: str, value: str) -> str:
        self.name_key = search_key(value)
        return value


class Chunk(Base):
    """One stored chunk of a content, in order; ``locator`` is the store's opaque handle."""

    __tablename__ = "drive_chunks"

    content_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    locator: Mapped[str] = mapped_column(String(1024))
    plain_size: Mapped[int] = mapped_column(Integer)
    plain_sha256: Mapped[str] = mapped_column(String(64))


class Upload(Base):
    """A resumable upload session; its id is the content id its chunks are bound to."""

    __tablename__ = "drive_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("drive_users.id"), index=True)
    folder_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(255))
    on_conflict: Mapped[str] = mapped_column(String(16))
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="open")
    file_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Share(Base):
    """A file shared with a user, for reading or for reading and writing."""

    __tablename__ = "drive_shares"

    file_id: Mapped[str] = mapped_column(
        ForeignKey("drive_files.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("drive_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    access: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Link(Base):
    """A signed download link's record (the token itself is derived, never stored)."""

    __tablename__ = "drive_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file_id: Mapped[str] = mapped_column(
        ForeignKey("drive_files.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("drive_users.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GarbageChunk(Base):
    """A stored chunk no file refers to any more, waiting to be deleted from the store."""

    __tablename__ = "drive_gc"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    locator: Mapped[str] = mapped_column(String(1024))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AppPassword(Base):
    """A per-device password for HTTP Basic clients (WebDAV): only its keyed hash is stored.

    ``secret_hash`` is HMAC-SHA256(app-password subkey of ``DRIVE_SECRET_KEY``, user id and
    secret), hex: unique, so verifying is one indexed lookup (see ``drive/app_passwords.py``)."""

    __tablename__ = "drive_app_passwords"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("drive_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DavProperty(Base):
    """A WebDAV dead property (PROPPATCH) of a file or folder, keyed by the entry's id so it
    follows renames and moves. ``value`` is the property's XML element as sent."""

    __tablename__ = "drive_dav_props"

    resource_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TrashEntry(Base):
    """A file or folder (with everything below it) in its owner's trash.

    The trashed row hangs from :data:`TRASH_ID` under the entry's id as its name (so the name is
    free again where it was); every row that went with it carries ``trash_id``. ``name`` and
    ``parent_id`` are where it came from; ``path`` is that place as text (for display and for
    recreating a deleted parent)."""

    __tablename__ = "drive_trash"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("drive_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    item_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(8192))
    files: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    trashed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class FileVersion(Base):
    """An earlier content of a file, kept when it was overwritten (its chunks stay stored)."""

    __tablename__ = "drive_file_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file_id: Mapped[str] = mapped_column(
        ForeignKey("drive_files.id", ondelete="CASCADE"), index=True
    )
    content_id: Mapped[str] = mapped_column(String(32))
    content_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    chunk_size: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(255))
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When this content was uploaded (the file's ``updated_at`` back then)."""
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class FolderShare(Base):
    """A folder shared with a user: the access applies to everything below it."""

    __tablename__ = "drive_folder_shares"

    folder_id: Mapped[str] = mapped_column(
        ForeignKey("drive_folders.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("drive_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    access: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FolderLink(Base):
    """A signed link to a folder (listing and zip), with its creator's authority."""

    __tablename__ = "drive_folder_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    folder_id: Mapped[str] = mapped_column(
        ForeignKey("drive_folders.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("drive_users.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
