"""Accounts: first-user registration, admin management, login with throttling, passwords.

- The first account registers without a token and becomes an administrator; the bootstrap row
  (:func:`repository.claim_bootstrap`) makes that race-free across API processes.
- Passwords are hashed with argon2id; an unknown name still costs one verify against a dummy
  hash so response times do not reveal which names exist.
- Login throttling: ``DRIVE_LOGIN_MAX_FAILURES`` failed attempts per account name within
  ``DRIVE_LOGIN_WINDOW_SECONDS`` lock that name with ``RATE_LIMITED`` (429) until the window
  ends, kept in the DB so every API process enforces the same budget.
- Changing one's password checks the old one as a sign-in attempt: refused while the account
  is throttled, and a wrong old password counts as a failed login for the account's name.
- Changing or resetting a password bumps ``token_version``: every earlier token dies.
"""

from __future__ import annotations

import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import events
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, LoginFailures, utcnow
from cordvault.drive.paging import check_page

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash("cordvault-dummy-password")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_USER_ID = 2**31 - 1  # drive_users.id is an INTEGER
MAX_USER_PAGE = 10_000  # the CLI's `user list` reads every account in one page


def validate_user_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            "user names are 1-64 characters: letters, digits, '_', '.', '-' (not first)",
        )
    return name


def validate_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            f"passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


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


def register_first(db: Session, name: str, password: str) -> DriveUser:
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
    return _new_user(db, name, password, is_admin=True)


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
    return _new_user(db, name, password, is_admin=is_admin)


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
    actor: Actor,
    user_id: int,
    *,
    is_admin: bool | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> DriveUser:
    """Admin changes to an account; disabling or resetting the password revokes its tokens.

    An admin cannot remove their own admin flag or disable themselves (no lock-out)."""
    require_admin(actor)
    user = get_user(db, user_id)
    if user.id == actor.id and (is_admin is False or disabled is True):
        raise CordvaultError(
            ErrorCode.CONFLICT, "administrators cannot demote or disable themselves"
        )
    before = user.token_version
    if is_admin is not None:
        user.is_admin = is_admin
    if disabled is not None and disabled != user.disabled:
        user.disabled = disabled
        user.token_version += 1
    if password is not None:
        user.password_hash = hash_password(validate_password(password))
        user.token_version += 1
    user.updated_at = utcnow()
    db.flush()
    if user.token_version != before:
        events.account_revoked(db, user.id, user.token_version)
    return user


def change_password(
    ctx: DriveContext, db: Session, actor: Actor, old_password: str, new_password: str
) -> DriveUser:
    """Change one's own password; every earlier token stops working.

    Checking the old password is a sign-in attempt for the account: it is refused while the
    account's name is throttled, and a wrong old password counts as a failed login (a stolen
    token gives no unlimited guesses)."""
    user = get_user(db, actor.id)
    window = timedelta(seconds=ctx.settings.drive_login_window_seconds)
    state = _check_throttle(ctx, db, user.name, window)
    if not _verify(user.password_hash, old_password or ""):
        _record_failure(ctx, user.name, window)
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "wrong password")
    validate_password(new_password)
    if state is not None:
        repo.clear_login_failures(db, user.name)
    user.password_hash = hash_password(new_password)
    user.token_version += 1
    user.updated_at = utcnow()
    db.flush()
    events.account_revoked(db, user.id, user.token_version)
    return user


def authenticate(ctx: DriveContext, db: Session, name: str, password: str) -> DriveUser:
    """Check a name and password under the throttle; ``UNAUTHORIZED`` or ``RATE_LIMITED``.

    Failures are recorded in their own transaction: the caller's transaction is rolled back
    when this raises, and the failure must still count.
    """
    key = (name or "")[:64]
    window = timedelta(seconds=ctx.settings.drive_login_window_seconds)
    state = _check_throttle(ctx, db, key, window)
    user = repo.user_by_name(db, key)
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password or "")
    if not ok or user is None or user.disabled:
        _record_failure(ctx, key, window)
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "wrong user name or password")
    if state is not None:
        repo.clear_login_failures(db, key)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _check_throttle(
    ctx: DriveContext, db: Session, key: str, window: timedelta
) -> LoginFailures | None:
    """``RATE_LIMITED`` while ``key`` has used up its failures in the current window; else the
    failure record (None when there is none)."""
    now = utcnow()
    state = repo.login_failures(db, key)
    if (
        state is not None
        and now - state.window_start < window
        and state.failures >= ctx.settings.drive_login_max_failures
    ):
        retry = int((state.window_start + window - now).total_seconds()) + 1
        raise CordvaultError(
            ErrorCode.RATE_LIMITED,
            "too many failed logins for this account; try again later",
            details={"retry_after": retry},
        )
    return state


def _record_failure(ctx: DriveContext, key: str, window: timedelta) -> None:
    now = utcnow()
    for _attempt in range(3):
        try:
            with ctx.sessions() as db, db.begin():
                state = repo.login_failures(db, key, for_update=True)
                if state is None:
                    repo.add(db, LoginFailures(name=key, failures=1, window_start=now))
                elif now - state.window_start >= window:
                    state.failures, state.window_start = 1, now
                else:
                    state.failures += 1
            return
        except IntegrityError:
            continue  # a concurrent first failure inserted the row; count again
