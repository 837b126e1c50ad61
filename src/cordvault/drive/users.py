"""Accounts: first-user registration, admin management, passwords.

- The first account registers without a token and becomes an administrator; the bootstrap row
  (:func:`repository.claim_bootstrap`) makes that race-free across API processes.
- Passwords are hashed with argon2id (:mod:`cordvault.drive.passwords`). Signing in is
  :mod:`cordvault.drive.signin` (throttled per client, never locking an account).
- Changing one's password checks the old one as a sign-in attempt through the same
  :func:`~cordvault.drive.signin.check_password`: a wrong old password counts as a failed
  sign-in of that account from that client (a stolen token gives no unlimited guesses).
- Changing or resetting a password, or disabling an account, bumps ``token_version`` and
  revokes every session: every earlier token dies.
- Every change here is written to the security log (:mod:`cordvault.drive.security_log`).
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import events, sessions, signin
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, utcnow
from cordvault.drive.paging import check_page
from cordvault.drive.passwords import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    hash_password,
    validate_password,
)
from cordvault.drive.security_log import Kind, record

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_USER_ID = 2**31 - 1  # drive_users.id is an INTEGER
MAX_USER_PAGE = 10_000  # the CLI's `user list` reads every account in one page
__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "hash_password", "validate_password"]


def validate_user_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            "user names are 1-64 characters: letters, digits, '_', '.', '-' (not first)",
        )
    return name


def _new_user(db: Session, name: str, password: str, *, is_admin: bool) -> DriveUser:
    name = validate_user_name(name)
    validate_password(password)
    if repo.user_by_name(db, name) is not None:
        raise CordvaultError(ErrorCode.CONFLICT, "a user with this name already exists")
    user = DriveUser(
        name=name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        disabled=False,
        token_version=0,
    )
    try:
        repo.add(db, user)  # flushes; the request's transaction rolls back on the error
    except IntegrityError:
        raise CordvaultError(ErrorCode.CONFLICT, "a user with this name already exists") from None
    return user


def register_first(
    db: Session, name: str, password: str, client: ClientInfo | None = None
) -> DriveUser:
    """Create the first account, an administrator; ``FORBIDDEN`` once any account exists."""
    closed = CordvaultError(
        ErrorCode.FORBIDDEN, "registration is closed: ask an administrator for an account"
    )
    if repo.count_users(db) > 0:
        raise closed
    validate_user_name(name)
    validate_password(password)
    try:
        repo.claim_bootstrap(db, "first-admin")
    except IntegrityError:
        raise closed from None
    user = _new_user(db, name, password, is_admin=True)
    record(db, Kind.ACCOUNT_CREATED, user_id=user.id, client=client, admin=True, via="register")
    return user


def create_user(
    db: Session, actor: Actor | None, name: str, password: str, *, is_admin: bool = False
) -> DriveUser:
    """Create an account. ``actor`` must be an admin; ``None`` means a local operator (CLI)."""
    if actor is not None and not actor.is_admin:
        raise CordvaultError(ErrorCode.FORBIDDEN, "only administrators create users")
    if repo.count_users(db) == 0:
        # The first account is always an admin, whichever way it is made.
        try:
            repo.claim_bootstrap(db, "first-admin")
        except IntegrityError:
            raise CordvaultError(ErrorCode.CONFLICT, "the first account is being created") from None
        is_admin = True
    user = _new_user(db, name, password, is_admin=is_admin)
    record(db, Kind.ACCOUNT_CREATED, user_id=user.id, actor=actor, admin=is_admin)
    return user


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise CordvaultError(ErrorCode.FORBIDDEN, "administrators only")


def get_user(db: Session, user_id: int) -> DriveUser:
    # An id no INTEGER column can hold names no account (and must not reach the driver: 500).
    user = repo.user_by_id(db, user_id) if 1 <= user_id <= MAX_USER_ID else None
    if user is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such user")
    return user


def get_user_by_name(db: Session, name: str) -> DriveUser:
    user = repo.user_by_name(db, name)
    if user is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such user")
    return user


def search_users(db: Session, query: str | None, *, limit: int, offset: int) -> list[DriveUser]:
    """Accounts whose name contains ``query`` (all when None), by name."""
    check_page(limit, offset, max_limit=MAX_USER_PAGE)
    return repo.list_users(db, query=query, limit=limit, offset=offset)


def update_user(
    db: Session,
    actor: Actor | None,
    user_id: int,
    *,
    is_admin: bool | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> DriveUser:
    """Admin changes to an account; disabling or resetting the password revokes its sessions.

    ``actor`` None is a local operator (the CLI, with the database at hand). An admin cannot
    remove their own admin flag or disable themselves (no lock-out)."""
    if actor is not None:
        require_admin(actor)
    user = get_user(db, user_id)
    if actor is not None and user.id == actor.id and (is_admin is False or disabled is True):
        raise CordvaultError(
            ErrorCode.CONFLICT, "administrators cannot demote or disable themselves"
        )
    if password is not None:
        validate_password(password)
    before = user.token_version
    if is_admin is not None and is_admin != user.is_admin:
        user.is_admin = is_admin
        kind = Kind.ACCOUNT_PROMOTED if is_admin else Kind.ACCOUNT_DEMOTED
        record(db, kind, user_id=user.id, actor=actor)
    if disabled is not None and disabled != user.disabled:
        user.disabled = disabled
        user.token_version += 1
        sessions.end_all_for_credential_change(db, user.id)
        kind = Kind.ACCOUNT_DISABLED if disabled else Kind.ACCOUNT_ENABLED
        record(db, kind, user_id=user.id, actor=actor)
    if password is not None:
        _set_password(db, user, password)
        record(db, Kind.PASSWORD_RESET, user_id=user.id, actor=actor)
    user.updated_at = utcnow()
    db.flush()
    if user.token_version != before:
        events.account_revoked(db, user.id, user.token_version)
    return user


def reset_password(db: Session, actor: Actor | None, name: str, password: str) -> DriveUser:
    """Set an account's password (``actor`` an admin, or None: the local CLI operator)."""
    if actor is not None:
        require_admin(actor)
    user = get_user_by_name(db, name)
    _set_password(db, user, validate_password(password))
    record(db, Kind.PASSWORD_RESET, user_id=user.id, actor=actor)
    db.flush()
    return user


def _set_password(db: Session, user: DriveUser, password: str) -> None:
    user.password_hash = hash_password(password)
    user.token_version += 1
    user.updated_at = utcnow()
    sessions.end_all_for_credential_change(db, user.id)


def change_password(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    old_password: str,
    new_password: str,
    client: ClientInfo,
) -> DriveUser:
    """Change one's own password; every earlier token stops working.

    Checking the old password is a sign-in attempt (:func:`signin.check_password`, ``via``
    ``password_change``): refused while this client waits, and a wrong old password counts as
    a failed sign-in of the account from this client."""
    user = get_user(db, actor.id)
    signin.check_password(
        ctx, db, user.name, old_password, client, via="password_change", log_success=False
    )
    _set_password(db, user, validate_password(new_password))
    record(db, Kind.PASSWORD_CHANGED, user_id=user.id, actor=actor)
    db.flush()
    events.account_revoked(db, user.id, user.token_version)
    return user
