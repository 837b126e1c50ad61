"""The drive API's JSON shapes (pydantic). Converters from ORM rows live next to the shapes.

Nothing secret is ever part of a response: no password hashes, no wrapped keys, no locators.
A file's ``sha256`` is shown only to users who may read its content.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cordvault.drive.access import Access
from cordvault.drive.folders import Listing
from cordvault.drive.models import (
    AppPassword,
    DriveFile,
    DriveUser,
    FileVersion,
    Folder,
    SecurityEvent,
    SignInSession,
    TrashEntry,
    Upload,
)
from cordvault.drive.names import OnConflict
from cordvault.drive.security_log import detail_of


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- auth and users ------------------------------------------------------------------------


class Credentials(_In):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class NewUser(Credentials):
    is_admin: bool = False


class UserPatch(_In):
    is_admin: bool | None = None
    disabled: bool | None = None
    password: str | None = Field(None, max_length=1024)


class PasswordChange(_In):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    is_admin: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: DriveUser) -> UserOut:
        return cls.model_validate(user)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 scheme name, not a secret
    expires_at: datetime
    user: UserOut


class SessionOut(BaseModel):
    """A sign-in session (a token, or another front door's session): never its token."""

    id: str
    kind: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    client_address: str
    last_client_address: str
    user_agent: str
    current: bool

    @classmethod
    def of(cls, row: SignInSession, current_id: str | None) -> SessionOut:
        return cls(
            id=row.id,
            kind=row.kind,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            client_address=row.client_address,
            last_client_address=row.last_client_address,
            user_agent=row.user_agent,
            current=row.id == current_id,
        )


class RevokedOut(BaseModel):
    revoked: int


class UnlockIn(_In):
    """What to unlock: the account (by id in the path) and optionally one client address."""

    client_address: str | None = Field(None, max_length=64)


class UnlockedOut(BaseModel):
    cleared: int


class SecurityEventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    user_id: int | None
    actor_id: int | None
    client_address: str | None
    user_agent: str | None
    detail: dict[str, str | int | bool | None]

    @classmethod
    def of(cls, row: SecurityEvent) -> SecurityEventOut:
        return cls(
            id=row.id,
            at=row.at,
            kind=row.kind,
            user_id=row.user_id,
            actor_id=row.actor_id,
            client_address=row.client_address,
            user_agent=row.user_agent,
            detail=detail_of(row),
        )


# -- folders and files ---------------------------------------------------------------------


class FolderIn(_In):
    parent_id: str = "root"
    name: str = Field(max_length=4096)
    on_conflict: OnConflict = OnConflict.FAIL


class FolderPatch(_In):
    name: str | None = Field(None, max_length=4096)
    parent_id: str | None = None
    public: bool | None = None
    on_conflict: OnConflict = OnConflict.FAIL


class MergeIn(_In):
    into: str
    on_conflict: OnConflict = OnConflict.FAIL


class FolderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = "folder"
    id: str
    parent_id: str | None
    name: str
    owner_id: int | None
    public: bool = False
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Folder) -> FolderOut:
        return cls.model_validate(row)


class FileOut(BaseModel):
    kind: str = "file"
    id: str
    folder_id: str
    name: str
    size: int
    mime_type: str
    owner_id: int
    public: bool
    content_version: int
    sha256: str | None
    access: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DriveFile, access: Access | str) -> FileOut:
        readable = str(access) != Access.NONE
        return cls(
            id=row.id,
            folder_id=row.folder_id,
            name=row.name,
            size=row.size,
            mime_type=row.mime_type,
            owner_id=row.owner_id,
            public=row.public,
            content_version=row.content_version,
            sha256=row.sha256 if readable else None,
            access=str(access),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ListingOut(BaseModel):
    folder: FolderOut
    path: str
    items: list[FolderOut | FileOut]
    total: int
    total_folders: int
    total_files: int
    limit: int
    offset: int

    @classmethod
    def of(
        cls, page: Listing, levels: dict[str, Access], *, path: str, limit: int, offset: int
    ) -> ListingOut:
        """A page of a folder: its folders, then its files with the caller's access to each
        (``levels``, by file id); ``path`` is how the answer names the folder."""
        items: list[FolderOut | FileOut] = [FolderOut.of(f) for f in page.folders]
        items += [FileOut.of(f, levels[f.id]) for f in page.files]
        return cls(
            folder=FolderOut.of(page.folder),
            path=path,
            items=items,
            total=page.total_folders + page.total_files,
            total_folders=page.total_folders,
            total_files=page.total_files,
            limit=limit,
            offset=offset,
        )


class FilePatch(_In):
    name: str | None = Field(None, max_length=4096)
    folder_id: str | None = None
    public: bool | None = None
    on_conflict: OnConflict = OnConflict.FAIL


class ShareIn(_In):
    access: str = "read"


class ShareOut(BaseModel):
    user: str
    access: str


class OwnerIn(_In):
    user: str


class ResolveOut(BaseModel):
    path: str
    folder: FolderOut | None = None
    file: FileOut | None = None


class TypeUsageOut(BaseModel):
    type: str
    count: int
    size: int


class UsageOut(BaseModel):
    files: int
    size: int
    by_type: list[TypeUsageOut]
    by_mime: list[TypeUsageOut]


class MergeOut(BaseModel):
    moved: int
    skipped: int
    renamed: int
    overwritten: int


# -- uploads and links ---------------------------------------------------------------------


class UploadIn(_In):
    folder_id: str = "root"
    name: str = Field(max_length=4096)
    size: int = Field(ge=0)
    sha256: str | None = Field(
        None, description="whole content's SHA-256 (hex); if absent, give it at completion"
    )
    mime_type: str | None = Field(None, max_length=255)
    on_conflict: OnConflict = OnConflict.FAIL


class CompleteIn(_In):
    sha256: str | None = Field(
        None, description="whole content's SHA-256 (hex); required if not given at creation"
    )


class UploadOut(BaseModel):
    id: str
    state: str
    name: str
    folder_id: str
    size: int
    chunk_size: int
    chunk_count: int
    received: list[int]
    file_id: str | None
    expires_at: datetime

    @classmethod
    def of(cls, up: Upload, received: list[int]) -> UploadOut:
        return cls(
            id=up.id,
            state=up.state,
            name=up.name,
            folder_id=up.folder_id,
            size=up.size,
            chunk_size=up.chunk_size,
            chunk_count=up.chunk_count,
            received=received,
            file_id=up.file_id,
            expires_at=up.expires_at,
        )


class ChunkOut(BaseModel):
    index: int
    stored: bool


class CompletedOut(BaseModel):
    file: FileOut
    skipped: bool
    overwritten: bool


class LinkIn(_In):
    expires_in: int | None = Field(None, ge=1)


class LinkOut(BaseModel):
    id: str
    url: str
    token: str
    expires_at: datetime | None
    created_at: datetime


# -- app passwords (issue 17: WebDAV) ------------------------------------------------------


class AppPasswordIn(_In):
    name: str = Field(max_length=64)


class AppPasswordOut(BaseModel):
    """An app password's record; ``password`` is set only in the answer that creates it."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    password: str | None = None

    @classmethod
    def of(cls, row: AppPassword, secret: str | None = None) -> AppPasswordOut:
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            password=secret,
        )


# -- trash, versions, quotas, search, folder sharing (issue 16) ----------------------------


class TrashEntryOut(BaseModel):
    id: str
    kind: str
    item_id: str
    name: str
    path: str
    """Where it was (restored there; missing parents are recreated)."""
    files: int
    size: int
    trashed_at: datetime
    purge_at: datetime | None

    @classmethod
    def of(cls, row: TrashEntry, purge_at: datetime | None) -> TrashEntryOut:
        return cls(
            id=row.id,
            kind=row.kind,
            item_id=row.item_id,
            name=row.name,
            path=row.path,
            files=row.files,
            size=row.size,
            trashed_at=row.trashed_at,
            purge_at=purge_at,
        )


class TrashPageOut(BaseModel):
    items: list[TrashEntryOut]
    total: int
    limit: int
    offset: int


class RestoreIn(_In):
    on_conflict: OnConflict = OnConflict.FAIL
    folder_id: str | None = None


class RestoredOut(BaseModel):
    kind: str
    id: str
    name: str
    folder_id: str
    skipped: bool


class VersionOut(BaseModel):
    id: str
    content_version: int
    size: int
    sha256: str
    mime_type: str
    modified_at: datetime
    replaced_at: datetime

    @classmethod
    def of(cls, row: FileVersion) -> VersionOut:
        return cls(
            id=row.id,
            content_version=row.content_version,
            size=row.size,
            sha256=row.sha256,
            mime_type=row.mime_type,
            modified_at=row.modified_at,
            replaced_at=row.replaced_at,
        )


class QuotaOut(BaseModel):
    user: str
    user_id: int
    limit: int | None
    """Bytes; null = unlimited."""
    setting: str
    """``default`` (from DRIVE_DEFAULT_QUOTA_BYTES), ``unlimited`` or ``custom``."""
    used: int
    files: int
    trash: int
    versions: int
    reserved: int
    available: int | None


class QuotaIn(_In):
    limit: int | str = Field(description="bytes, 'unlimited' or 'default'")


class SearchOut(BaseModel):
    items: list[FolderOut | FileOut]
    limit: int
    offset: int
    has_more: bool


class FolderShareOut(BaseModel):
    user: str
    access: str


class SharedFolderOut(BaseModel):
    folder: FolderOut
    access: str
