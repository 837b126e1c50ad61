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
from cordvault.drive.models import SignInThrottle

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


def bump(db: Session, settings: Settings, attempt: Attempt, now: datetime) -> Failure:
    """Count one failure in every scope (``db`` is a transaction of its own; the caller retries
    it on ``IntegrityError``, a concurrent first failure having inserted a row)."""
    window = timedelta(seconds=settings.drive_login_window_seconds)
    delay = 0.0
    alert = False
    for scope, key in attempt.keys().items():
        row = srepo.throttle_row(db, key, for_update=True)
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
            continue
        wait = delay_after(
            row.failures,
            _free_failures(settings, scope),
            settings.drive_login_base_delay_seconds,
            settings.drive_login_max_delay_seconds,
        )
        row.blocked_until = now + timedelta(seconds=wait)
        delay = max(delay, wait)
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
