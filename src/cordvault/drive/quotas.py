"""Storage quotas: per account, set by an administrator, checked before any chunk is stored.

An account's **usage** is the bytes of the files it owns (trashed ones included), of their kept
versions, and of its uploads in progress: an open resumable session reserves its declared
size, a streaming upload the bytes reserved so far. Its **limit** is its own ``quota_bytes``
(``-1``: unlimited) or, when unset, ``DRIVE_DEFAULT_QUOTA_BYTES`` (``0``: unlimited).

:func:`reserve` is the one check: it locks the account's row (a no-op ``UPDATE``: a row lock on
PostgreSQL, the write lock on SQLite), sums the usage afresh, and refuses with
``QUOTA_EXCEEDED`` (``details``: ``quota``, ``used``, ``requested``, ``available``) when the
request does not fit. The caller records the reservation (the upload row) in the same
transaction, so concurrent uploads of one account are checked one after the other and can
never overshoot together. A resumable upload is checked once, when its session is opened
(before any chunk is sent); a streamed upload of known length (``Content-Length``) likewise
before its body is read, and one of unknown length reserves one chunk ahead while it streams
(:class:`StreamReservation`), so it stops at the chunk that would cross the limit, before
storing it.

Usage is summed live, in one statement (one snapshot, see :func:`reserve`), from a covering
index ``(owner_id, size)`` rather than kept in a counter, so it can never drift;
``benchmarks/drive_features.py`` measures the check's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, Upload, utcnow
from cordvault.drive.users import get_user_by_name

UNLIMITED = -1
MAX_AHEAD_CHUNKS = 64
"""A streamed upload reserves at most this many chunks ahead of what it received."""


@dataclass(frozen=True)
class Usage:
    user_id: int
    name: str
    limit: int | None
    """Bytes, or None for unlimited."""
    own_limit: int | None
    """The account's own setting: None = the default, -1 = unlimited."""
    files: int
    trash: int
    versions: int
    reserved: int

    @property
    def used(self) -> int:
        return self.files + self.versions + self.reserved


def effective_limit(ctx: DriveContext, user: DriveUser) -> int | None:
    if user.quota_bytes is None:
        default = ctx.settings.drive_default_quota_bytes
        return default if default > 0 else None
    return None if user.quota_bytes < 0 else user.quota_bytes


def usage_of(ctx: DriveContext, db: Session, users: list[DriveUser]) -> list[Usage]:
    ids = [u.id for u in users]
    stored = repo.stored_bytes(db, ids)
    versions = repo.version_bytes(db, ids)
    reserved = repo.reserved_bytes(db, ids)
    return [
        Usage(
            user_id=u.id,
            name=u.name,
            limit=effective_limit(ctx, u),
            own_limit=u.quota_bytes,
            files=stored.get(u.id, (0, 0))[0],
            trash=stored.get(u.id, (0, 0))[1],
            versions=versions.get(u.id, 0),
            reserved=reserved.get(u.id, 0),
        )
        for u in users
    ]


def my_usage(ctx: DriveContext, db: Session, actor: Actor) -> Usage:
    user = repo.user_by_id(db, actor.id)
    assert user is not None  # the token was verified in this transaction
    return usage_of(ctx, db, [user])[0]


def all_usage(ctx: DriveContext, db: Session, actor: Actor) -> list[Usage]:
    """Every account's usage and limit (administrators)."""
    _require_admin(actor)
    return usage_of(ctx, db, repo.all_users(db))


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise CordvaultError(ErrorCode.FORBIDDEN, "administrators only")


def set_quota(
    ctx: DriveContext, db: Session, actor: Actor, user_name: str, limit: int | str
) -> Usage:
    """Set an account's quota (administrators): bytes, ``"unlimited"`` or ``"default"``."""
    _require_admin(actor)
    user = get_user_by_name(db, user_name)
    if limit == "unlimited":
        user.quota_bytes = UNLIMITED
    elif limit == "default":
        user.quota_bytes = None
    elif isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit <= 1 << 60:
        user.quota_bytes = limit
    else:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, "limit is bytes (0 to 2^60), 'unlimited' or 'default'"
        )
    user.updated_at = utcnow()
    db.flush()
    return usage_of(ctx, db, [user])[0]


def reserve(ctx: DriveContext, db: Session, user_id: int, requested: int) -> None:
    """``QUOTA_EXCEEDED`` unless ``requested`` more bytes fit the account's quota. Locks the
    account row until the transaction ends: record the reservation in the same transaction."""
    if requested <= 0:
        return
    user = repo.user_by_id(db, user_id)
    if user is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such user")
    if effective_limit(ctx, user) is None:
        return  # unlimited: no lock, no sum (the common case costs one primary-key read)
    repo.lock_row(db, DriveUser, user_id)
    db.refresh(user)  # the limit as of the lock (an admin may just have changed it)
    limit = effective_limit(ctx, user)
    if limit is None:
        return
    # One statement, so one snapshot: an upload completing meanwhile (its reservation turning
    # into a file in one commit) is seen wholly or not at all, never counted twice or missed.
    used = repo.usage_snapshot(db, user.id)
    if used + requested > limit:
        raise CordvaultError(
            ErrorCode.QUOTA_EXCEEDED,
            f"storage quota exceeded: {used} of {limit} bytes used, {requested} more requested",
            details={
                "quota": limit,
                "used": used,
                "requested": requested,
                "available": max(0, limit - used),
            },
        )


class StreamReservation:
    """The quota reservation of a streamed upload of unknown length: an upload row in state
    ``streaming`` whose ``size`` is the bytes reserved so far. :meth:`cover` is called with the
    bytes received so far before they are handed on to be stored; it reserves ahead (one chunk,
    then twice as much each time, at most :data:`MAX_AHEAD_CHUNKS` chunks: a long upload pays
    the check a logarithmic number of times, not once per chunk), or what is left of the quota
    when that is less, and refuses once the bytes exceed what may be reserved. The stored bytes
    never pass the reservation, so the quota is never overshot; the unused part of a reservation
    is released when the upload ends (the file then counts at its real size)."""

    def __init__(self, ctx: DriveContext, user_id: int, row_id: str, step: int) -> None:
        self.ctx, self.user_id, self.row_id = ctx, user_id, row_id
        self.chunk, self.step = step, step
        self.reserved = 0

    def cover(self, received: int) -> None:
        if received <= self.reserved:
            return
        want = max(received - self.reserved, self.step)
        self.step = min(self.step * 2, self.chunk * MAX_AHEAD_CHUNKS)
        with self.ctx.sessions() as db, db.begin():
            try:
                reserve(self.ctx, db, self.user_id, want)
            except CordvaultError as exc:
                available = int(str(exc.details.get("available", 0)))
                if exc.code is not ErrorCode.QUOTA_EXCEEDED or self.reserved + available < received:
                    raise
                want = available  # the last bytes that fit: the stream must end within them
            row = db.get(Upload, self.row_id, with_for_update=True)
            assert row is not None
            row.size += want
            self.reserved += want
