"""Password hashing (argon2id) and the constant-work check behind every sign-in.

:func:`verify` always runs one argon2 verification: against the account's hash, or (no such
account) against a dummy hash made with the *current* hasher's parameters, so an unknown name
costs what a wrong password costs (a dummy made once with other parameters would not).
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cordvault.core.errors import CordvaultError, ErrorCode

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_dummies: dict[tuple[int, int, int], str] = {}
_dummy_lock = threading.Lock()

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def validate_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            f"passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)


def _dummy_hash() -> str:
    hasher = _hasher
    params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    with _dummy_lock:
        if params not in _dummies:
            _dummies[params] = hasher.hash("cordvault-dummy-password")
        return _dummies[params]


def verify(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches ``hashed``; ``None`` (no account) does the same work and
    answers False."""
    try:
        ok = _hasher.verify(hashed if hashed is not None else _dummy_hash(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and hashed is not None
