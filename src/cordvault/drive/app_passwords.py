"""App passwords: per-device secrets for HTTP Basic clients (WebDAV file managers, rclone).

A file manager sends hundreds of requests a minute, each with the same Basic credentials, so
they cannot cost an argon2 verification each. Instead a user creates one app password per
device (named, listed, revoked one by one), and:

- the secret is shown once at creation and never stored: the row keeps
  ``HMAC-SHA256(app-password subkey of DRIVE_SECRET_KEY, "<user id>:<secret>")`` (hex), unique,
  so a verification is one HMAC and one indexed lookup, and a stolen database (without the
  server secret) gives nothing to brute-force offline;
- a verification that misses the cache is a sign-in (:func:`cordvault.drive.signin.sign_in`,
  ``via="webdav"``): the same per-client throttling, the same answer for unknown names, every
  failure logged; a client waiting there is refused before any secret is checked;
- :class:`CredentialCache` remembers a verified ``(name, secret)`` for a short time
  (``DRIVE_DAV_AUTH_CACHE_SECONDS``) so the next requests skip the throttle read, the lookups
  and the ``last_used_at`` write. A cache hit still re-reads the app password and its account
  by primary key (:func:`repository.live_app_password`) in the request's transaction: a revoked
  app password or a disabled account fails at the very next request, in every process;
- an account's password (argon2) is never accepted over Basic: only app passwords are.

Errors: ``UNAUTHORIZED`` (one message whatever failed), ``RATE_LIMITED``, ``INVALID_INPUT``
(a bad name, too many app passwords), ``NOT_FOUND`` (revoking an unknown or another user's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive import signin
from cordvault.drive.auth import Actor, actor_of
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import AppPassword, DriveUser, utcnow

MAX_APP_PASSWORDS = 100
"""App passwords one account may hold at once."""
MAX_NAME = 64
_LAST_USED_EVERY = timedelta(minutes=5)
"""``last_used_at`` is written at most this often per app password (not on every request)."""


def _unauthorized() -> CordvaultError:
    return CordvaultError(ErrorCode.UNAUTHORIZED, "wrong user name or app password")


def _secret_hash(ctx: DriveContext, user_id: int, secret: str) -> str:
    message = f"{user_id}:{secret}".encode()
    return hmac.new(ctx.signing.app_password_key, message, hashlib.sha256).hexdigest()


def new_secret() -> str:
    """32 base32 characters (160 random bits) in groups of four, easy to type on a phone."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def validate_label(name: str) -> str:
    label = (name or "").strip()
    if not 1 <= len(label) <= MAX_NAME or not label.isprintable():
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, f"app password names are 1-{MAX_NAME} printable characters"
        )
    return label


@dataclass(frozen=True)
class CreatedAppPassword:
    row: AppPassword
    secret: str

    def __repr__(self) -> str:
        return f"CreatedAppPassword({self.row.id}, <secret>)"


def create(ctx: DriveContext, db: Session, actor: Actor, name: str) -> CreatedAppPassword:
    """A new app password for ``actor``; the secret is returned once and never stored."""
    label = validate_label(name)
    if repo.count_app_passwords(db, actor.id) >= MAX_APP_PASSWORDS:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            f"at most {MAX_APP_PASSWORDS} app passwords per account: revoke unused ones",
        )
    secret = new_secret()
    row = AppPassword(
        id=uuid.uuid4().hex,
        user_id=actor.id,
        name=label,
        secret_hash=_secret_hash(ctx, actor.id, secret),
        created_at=utcnow(),
        last_used_at=None,
    )
    repo.add(db, row)
    return CreatedAppPassword(row, secret)


def list_mine(db: Session, actor: Actor) -> list[AppPassword]:
    """``actor``'s app passwords, newest first."""
    return repo.app_passwords_of(db, actor.id)


def revoke(db: Session, actor: Actor, app_password_id: str) -> None:
    """Delete one of ``actor``'s app passwords; it fails from the next request on."""
    row = repo.app_password(db, app_password_id)
    if row is None or row.user_id != actor.id:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such app password")
    repo.delete_app_password(db, row)


@dataclass(frozen=True)
class _Verified:
    user_id: int
    app_password_id: str
    expires: float


class CredentialCache:
    """Verified Basic credentials for ``ttl`` seconds, bounded LRU (process-wide; built by
    the composition root). Keys are keyed hashes of name and secret, never the secret."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _Verified | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, user_id: int, app_password_id: str) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = _Verified(user_id, app_password_id, time.monotonic() + self.ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


def _cache_key(ctx: DriveContext, name: str, secret: str) -> str:
    message = b"basic\0" + name.encode() + b"\0" + secret.encode()
    return hmac.new(ctx.signing.app_password_key, message, hashlib.sha256).hexdigest()


def verify_basic(
    ctx: DriveContext,
    db: Session,
    cache: CredentialCache,
    name: str,
    secret: str,
    client: ClientInfo,
) -> Actor:
    """The account a Basic ``name:secret`` pair stands for (see the module docstring)."""
    name, secret = (name or "")[:64], (secret or "")[:256]
    key = _cache_key(ctx, name, secret)
    hit = cache.get(key)
    if hit is not None:
        user = repo.live_app_password(db, hit.app_password_id, hit.user_id)
        if user is not None:
            return actor_of(user)
        cache.forget(key)  # revoked or disabled since: verify from scratch (and fail)
    found: list[AppPassword] = []

    def verify(user: DriveUser | None) -> bool:
        # An unknown name costs the same HMAC and lookup as a known one.
        digest = _secret_hash(ctx, user.id if user is not None else 0, secret)
        row = repo.app_password_by_hash(db, digest)
        if user is None or row is None or row.user_id != user.id:
            return False
        found.append(row)
        return True

    # Success is not logged here: with the cache, that would be one event per device a minute.
    user = signin.sign_in(ctx, db, name, client, verify, via="webdav", log_success=False)
    row = found[0]
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
        row.last_used_at = now
        db.flush()
    cache.put(key, user.id, row.id)
    return actor_of(user)
