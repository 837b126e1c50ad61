"""The one credential check every front door calls: throttled, logged, enumeration-proof.

Front doors: ``POST /api/auth/login`` and ``POST /api/auth/password`` (REST), the web login
page, WebDAV Basic auth and app passwords, the WebSocket's first packet. Each one:

1. builds a :class:`~cordvault.drive.clients.ClientInfo` with
   :func:`cordvault.drive.clients.client_info` (socket peer, ``X-Forwarded-For``,
   ``User-Agent``, ``settings.trusted_proxy_networks``);
2. calls :func:`check_password` (the account password) or :func:`sign_in` with its own
   verifier (an app password), inside its request transaction, naming itself in ``via``;
3. on success opens whatever it needs (a token: :func:`cordvault.drive.auth.issue_token`, a
   cookie session: the same with its own ``kind``), then commits;
4. turns the ``CordvaultError`` it gets otherwise into its protocol's answer:
   ``UNAUTHORIZED`` (401; WebDAV: 401 with a challenge) or ``RATE_LIMITED`` (429, with
   ``details.retry_after`` seconds; WebDAV: 429 + ``Retry-After``; WebSocket: close).

Rules (see :mod:`cordvault.drive.throttle` for the counting):

- a client whose pair or address is waiting gets ``RATE_LIMITED`` before any password is
  checked; a client with no recent failures is never refused a correct password;
- an unknown name, a disabled account and a wrong password give the same answer
  (``UNAUTHORIZED``, "wrong user name or password"), after the same work: one argon2
  verification (a dummy one for unknown names), the same throttle reads and writes, the same
  security log write (an unknown name is logged without the name);
- every attempt is checked and counted as a failure *before* its secret is verified, in a
  transaction of its own (:func:`cordvault.drive.throttle.reserve`), so parallel guesses
  from one client cannot all slip past the check; a failure then only logs (own transaction:
  the caller's is rolled back by the error); a success takes the count back
  (:func:`cordvault.drive.throttle.release`, own transaction too) and logs ``signin.success``
  in the caller's transaction. Callers must not hold the SQLite write lock when calling.

``via`` values in use: ``api``, ``password_change``, ``web``, ``webdav``, ``websocket``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core import metrics
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import passwords, security_log, throttle
from cordvault.drive import repository as repo
from cordvault.drive import security_repository as srepo
from cordvault.drive.auth import Actor
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, utcnow
from cordvault.drive.security_log import Kind, record

log = logging.getLogger(__name__)

Verifier = Callable[[DriveUser | None], bool]
"""Checks the secret presented for an account (``None``: no such account). Must do the same
work whether or not the account exists (e.g. verify against a dummy hash) and answer False
for ``None``."""

WRONG_CREDENTIALS = "wrong user name or password"
SESSION_KEEP = timedelta(days=1)
"""Ended (expired or revoked) sessions are deleted this long after they ended."""


def sign_in(
    ctx: DriveContext,
    db: Session,
    name: str,
    client: ClientInfo,
    verify: Verifier,
    *,
    via: str,
    log_success: bool = True,
) -> DriveUser:
    """The account ``name`` if ``verify`` accepts the secret presented for it; else
    ``RATE_LIMITED`` (this client must wait) or ``UNAUTHORIZED`` (wrong, unknown, disabled).
    ``log_success=False`` leaves the success event to the caller (a password change logs
    ``password.changed`` instead)."""
    attempt = throttle.attempt_for(ctx, name, client.address)
    reservation = _reserve(ctx, attempt)
    user = repo.user_by_name(db, (name or "")[:64])
    ok = verify(user)
    if not ok or user is None or user.disabled:
        _record_failure(ctx, reservation.failure, client, user, via)
        raise CordvaultError(ErrorCode.UNAUTHORIZED, WRONG_CREDENTIALS)
    with ctx.sessions() as own, own.begin():
        # Its own short transaction, like the reservation: holding the throttle rows until
        # the caller commits would make concurrent sign-ins wait on (and deadlock with) it.
        throttle.release(own, reservation)
    if log_success:
        record(db, Kind.SIGNIN_SUCCESS, user_id=user.id, client=client, via=via)
    return user


def check_password(
    ctx: DriveContext,
    db: Session,
    name: str,
    password: str,
    client: ClientInfo,
    *,
    via: str,
    log_success: bool = True,
) -> DriveUser:
    """:func:`sign_in` with the account's password (rehashed when the parameters changed)."""

    def verify(user: DriveUser | None) -> bool:
        return passwords.verify(user.password_hash if user is not None else None, password)

    user = sign_in(ctx, db, name, client, verify, via=via, log_success=log_success)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def unlock(
    ctx: DriveContext,
    db: Session,
    actor: Actor | None,
    *,
    name: str | None,
    address: str | None = None,
) -> int:
    """Clear the throttling of an account name (every client) and/or of a client address
    (every account): ``cordvault user unlock`` (``actor=None``) and the admin route. Logged as
    ``signin.unlocked``; how many throttle rows were cleared."""
    if actor is not None and not actor.is_admin:
        raise CordvaultError(ErrorCode.FORBIDDEN, "administrators only")
    if name is None and address is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "name an account or a client address")
    cleared = throttle.unlock(ctx, db, name=name, address=address)
    user = repo.user_by_name(db, name) if name is not None else None
    record(
        db,
        Kind.THROTTLE_CLEARED,
        user_id=user.id if user is not None else None,
        actor=actor,
        client_address=address,
        cleared=cleared,
    )
    return cleared


def _reserve(ctx: DriveContext, attempt: throttle.Attempt) -> throttle.Reservation:
    """Check and count the attempt in a committed transaction of its own (RATE_LIMITED when
    this client waits)."""
    for _try in range(3):
        try:
            with ctx.sessions() as db, db.begin():
                return throttle.reserve(db, ctx.settings, attempt)
        except IntegrityError:
            continue  # a concurrent first attempt inserted a row: check and count again
    raise CordvaultError(
        ErrorCode.RATE_LIMITED,
        "too many sign-ins at once from your address; try again",
        details={"retry_after": 1, "retry_after_ms": 1000},
    )


def _record_failure(
    ctx: DriveContext,
    failure: throttle.Failure,
    client: ClientInfo,
    user: DriveUser | None,
    via: str,
) -> None:
    user_id = user.id if user is not None else None
    with ctx.sessions() as db, db.begin():
        record(
            db,
            Kind.SIGNIN_FAILURE,
            user_id=user_id,
            client=client,
            via=via,
            account=None if user is not None else "unknown",
            delay_ms=int(failure.delay * 1000) or None,
        )
        if failure.alert:
            record(db, Kind.SIGNIN_ALERT, user_id=user_id, client=client, via=via)
    if failure.alert:
        metrics.SIGNIN_ALERTS.inc()
        # Names are not logged (they may be mistyped passwords); the account id when known.
        log.warning(
            "sign-in alert: %d failed sign-ins within %d s for one account (id %s); "
            "see the security log (kind signin.alert)",
            ctx.settings.drive_login_alert_failures,
            ctx.settings.drive_login_window_seconds,
            user_id if user_id is not None else "unknown",
        )


def housekeeping(ctx: DriveContext) -> None:
    """Forget what no longer matters (own transaction; the drive collector runs it each
    pass): throttle rows past the window, sessions that ended a day ago, and security log
    events past ``DRIVE_SECURITY_LOG_RETENTION_DAYS``."""
    now = utcnow()
    with ctx.sessions() as db, db.begin():
        throttle.forget_old(db, ctx.settings, now)
        srepo.forget_sessions(db, now - SESSION_KEEP)
    security_log.prune(ctx)
