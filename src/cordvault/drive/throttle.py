"""Sign-in throttling state: growing delays per (account, client) and per client, never a lock.

Three scopes, one row each in ``drive_signin_throttle`` (shared by every API process):

- ``pair`` (account, client): from the ``DRIVE_LOGIN_MAX_FAILURES``-th failure on, this pair
  waits ``DRIVE_LOGIN_BASE_DELAY_SECONDS`` before its next try, doubling with each further
  failure up to
  ``DRIVE_LOGIN_MAX_DELAY_SECONDS``;
- ``client`` (across accounts): the same after ``DRIVE_LOGIN_CLIENT_MAX_FAILURES``, so trying
  many names from one address does not escape the delays;
- ``account`` (across clients): **never blocks**. Once ``DRIVE_LOGIN_ALERT_FAILURES`` failures
  pile up within the window it raises one alert (warning log + ``signin.alert`` event): a
  distributed attack is for the operator to see, not a way to lock the owner out.

A client with no recent failures is never delayed, so the owner signing in from their own
address always gets in whatever an attacker elsewhere does. Counts are forgotten once a scope
had no failure for ``DRIVE_LOGIN_WINDOW_SECONDS``. A success clears its pair only: the client
count stays (an attacker with an account of their own must not reset their budget by signing
in to it between guesses).

Concurrency: an attempt is counted *before* its secret is verified (:func:`reserve`: check
and count in one short transaction of its own, holding the rows - ``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), and the count is taken back when the secret was
right (:func:`release`). So N guesses sent at the same moment by one client are checked and
counted one after the other: at most as many are verified as the delays allow sequentially.
The price: a client sending more than ``DRIVE_LOGIN_MAX_FAILURES`` *correct* sign-ins at the
same moment may see the extra ones refused for the base delay (clients retry on 429).

Keys: the account is an HMAC of the case-folded name typed (names that exist and names that
do not are throttled alike and nothing readable is stored); the client is
:func:`cordvault.drive.clients.throttle_key` of its address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.drive import security_repository as srepo
from cordvault.drive.clients import throttle_key
from cordvault.drive.context import DriveContext
from cordvault.drive.models import SignInThrottle, utcnow

PAIR = "pair"
CLIENT = "client"
ACCOUNT = "account"


@dataclass(frozen=True)
class Attempt:
    """What one sign-in attempt is counted under."""

    account_key: str
    client: str

    def keys(self) -> dict[str, tuple[str, str, str]]:
        return {
            PAIR: (PAIR, self.account_key, self.client),
            CLIENT: (CLIENT, "", self.client),
            ACCOUNT: (ACCOUNT, self.account_key, ""),
        }


@dataclass(frozen=True)
class Failure:
    """The effect of one recorded failure."""

    delay: float  # seconds this client now waits before its next try (0: none)
    alert: bool  # the account just crossed DRIVE_LOGIN_ALERT_FAILURES


@dataclass(frozen=True)
class Before:
    """One scope's row as a reservation found it (``existed=False``: it made the row)."""

    existed: bool
    blocked_until: datetime
    alerted: bool
    set_blocked_until: datetime  # what the reservation wrote


@dataclass(frozen=True)
class Reservation:
    """An attempt counted as a failure before verification (:func:`reserve`)."""

    attempt: Attempt
    failure: Failure
    before: dict[str, Before]


def account_key(ctx: DriveContext, name: str) -> str:
    """The throttle key of an account name as typed (case-folded, first 64 characters)."""
    text = (name or "")[:64].casefold().encode("utf-8", "surrogatepass")
    return hmac.new(ctx.signing.token_key, b"signin-throttle\0" + text, hashlib.sha256).hexdigest()


def attempt_for(ctx: DriveContext, name: str, address: str) -> Attempt:
    return Attempt(account_key=account_key(ctx, name), client=throttle_key(address))


def delay_after(failures: int, free: int, base: float, cap: float) -> float:
    """Seconds to wait after ``failures`` recent failures: 0 below ``free``; ``base`` after
    the ``free``-th, doubling with each further failure, at most ``cap``."""
    extra = failures - free
    if extra < 0:
        return 0.0
    return min(cap, base * 2.0 ** min(extra, 62))


def check(db: Session, attempt: Attempt, now: datetime) -> None:
    """``RATE_LIMITED`` (with ``retry_after`` seconds) while the pair or the client waits."""
    keys = attempt.keys()
    rows = srepo.throttle_rows(db, [keys[PAIR], keys[CLIENT]])
    until = max((row.blocked_until for row in rows), default=now)
    if until > now:
        wait = (until - now).total_seconds()
        raise CordvaultError(
            ErrorCode.RATE_LIMITED,
            "too many failed sign-ins from your address; wait before trying again",
            details={
                "retry_after": max(1, math.ceil(wait)),
                "retry_after_ms": math.ceil(wait * 1000),
            },
        )


def _free_failures(settings: Settings, scope: str) -> int:
    if scope == PAIR:
        return settings.drive_login_max_failures
    return settings.drive_login_client_max_failures


def reserve(db: Session, settings: Settings, attempt: Attempt) -> Reservation:
    """Check (:func:`check`) and count the attempt as a failure, atomically: ``db`` must be a
    fresh transaction of its own, committed by the caller before the secret is verified; the
    caller retries on ``IntegrityError`` (a concurrent first attempt inserted a row)."""
    _lock_client(db, attempt)
    srepo.throttle_row(db, attempt.keys()[PAIR], for_update=True)
    # The time is read once the rows are ours: a "now" taken before waiting for the lock
    # would be earlier than what the previous holder wrote, and look like a delay.
    now = utcnow()
    check(db, attempt, now)
    before: dict[str, Before] = {}
    failure = bump(db, settings, attempt, now, before=before)
    return Reservation(attempt=attempt, failure=failure, before=before)


def _lock_client(db: Session, attempt: Attempt) -> None:
    """Serialise every reservation and release of one client: its ``client`` row (made if
    missing) is locked first, before the pair and account rows. Locking rows that may not
    exist yet (an insert racing a delete of the same key) deadlocked on PostgreSQL."""
    if db.get_bind().dialect.name == "sqlite":
        # pysqlite opens a transaction only at the first write: the reads that follow would
        # each see their own snapshot and two concurrent attempts would both pass. Take the
        # write lock first (waits under the busy timeout) so check-and-count is one unit.
        raw = db.connection().connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")
    key = attempt.keys()[CLIENT]
    srepo.ensure_throttle_row(db, key, utcnow())
    srepo.throttle_row(db, key, for_update=True)


def release(db: Session, reservation: Reservation) -> None:
    """The reserved attempt succeeded: take its count back (``db``: a short transaction of
    its own; the client row is locked first, as in :func:`reserve`) -
    the pair is forgiven (:func:`clear_pair`), the client and account counts lose the one
    failure the reservation added, and the delay or alert it set is undone unless a later
    failure replaced it."""
    keys = reservation.attempt.keys()
    _lock_client(db, reservation.attempt)
    srepo.delete_throttle_row(db, keys[PAIR])
    for scope in (CLIENT, ACCOUNT):
        was = reservation.before.get(scope)
        if was is None:
            continue
        srepo.take_back_failure(
            db,
            keys[scope],
            blocked_until=(was.blocked_until, was.set_blocked_until),
            alerted=was.alerted if scope == ACCOUNT and reservation.failure.alert else None,
            drop_if_empty=scope == ACCOUNT and not was.existed,
        )


def bump(
    db: Session,
    settings: Settings,
    attempt: Attempt,
    now: datetime,
    *,
    before: dict[str, Before] | None = None,
) -> Failure:
    """Count one failure in every scope (inside :func:`reserve`'s transaction); ``before``
    receives each row's state as found, for :func:`release`."""
    window = timedelta(seconds=settings.drive_login_window_seconds)
    delay = 0.0
    alert = False
    for scope, key in attempt.keys().items():
        row = srepo.throttle_row(db, key, for_update=True)
        existed = row is not None
        prior_until = row.blocked_until if row is not None else now
        prior_alerted = row.alerted if row is not None else False
        if row is None:
            row = SignInThrottle(
                scope=key[0],
                account_key=key[1],
                client=key[2],
                failures=0,
                last_failure_at=now,
                blocked_until=now,
                alerted=False,
            )
            db.add(row)
        elif now - row.last_failure_at >= window:
            row.failures, row.alerted = 0, False
        row.failures += 1
        row.last_failure_at = now
        if scope == ACCOUNT:
            if row.failures >= settings.drive_login_alert_failures and not row.alerted:
                row.alerted = alert = True
            if before is not None:
                before[scope] = Before(existed, prior_until, prior_alerted, row.blocked_until)
            continue
        wait = delay_after(
            row.failures,
            _free_failures(settings, scope),
            settings.drive_login_base_delay_seconds,
            settings.drive_login_max_delay_seconds,
        )
        row.blocked_until = now + timedelta(seconds=wait)
        delay = max(delay, wait)
        if before is not None:
            before[scope] = Before(existed, prior_until, prior_alerted, row.blocked_until)
    db.flush()
    return Failure(delay=delay, alert=alert)


def clear_pair(db: Session, attempt: Attempt) -> None:
    """A success: this client's failures on this account are forgiven."""
    row = srepo.throttle_row(db, attempt.keys()[PAIR])
    if row is not None:
        db.delete(row)


def unlock(ctx: DriveContext, db: Session, *, name: str | None, address: str | None) -> int:
    """Clear the throttling of an account name (every client; the account's alert too), of a
    client address (every account), or both; how many rows were cleared."""
    cleared = 0
    if name is not None:
        cleared += srepo.clear_throttle(db, account_key=account_key(ctx, name), client=None)
    if address is not None:
        cleared += srepo.clear_throttle(db, account_key=None, client=throttle_key(address))
    return cleared


def forget_old(db: Session, settings: Settings, now: datetime) -> None:
    """Delete rows whose failures are forgotten anyway (housekeeping)."""
    srepo.forget_throttle(db, now - timedelta(seconds=settings.drive_login_window_seconds))
