"""The drive's server-side secrets (signing secret, master keyring) and its crypto boundary.

``DRIVE_SECRET_KEY`` signs login tokens (JWT, HS256) and download links (HMAC-SHA256), and keys
the hashes of app passwords (HMAC-SHA256), through three independent subkeys. Unset, a random
secret is generated once into ``DATA_DIR/drive_secret.key`` (mode 0600, created atomically so
concurrent API processes agree).
Placeholder-looking values are refused with ``INVALID_SETTINGS``.

``MESSAGE_ENCRYPTION_KEY`` wraps the per-file keys. With the local backend and no key set, one is
generated into ``DATA_DIR/drive_master.key`` (0600) so the embedded default runs out of the box;
any other backend requires it explicitly (``MISSING_SETTINGS``): chunks on Discord are useless
without a key the operator keeps somewhere safe. ``MESSAGE_ENCRYPTION_OLD_KEYS`` (comma-separated)
lists old master keys still accepted for unwrapping during a rotation. Every key value read here
is registered with the log redactor.

This is also where the drive meets :mod:`cordvault.crypto`'s errors: :func:`crypto_error` is the
one translation of a :class:`~cordvault.crypto.CryptoError` into a ``CordvaultError``
(``DecryptionFailed`` -> ``INTEGRITY_ERROR`` with the same message and details, ``InvalidKey`` ->
``INVALID_SETTINGS`` naming the variable, never the value). The drive's call sites into crypto
(here, ``content.py``, ``streaming.py``, ``rotation.py``) use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import read_or_create_secret
from cordvault.core.logs import register_secret
from cordvault.core.settings import Settings, require
from cordvault.crypto import CryptoError, InvalidKey, MasterKeyring

CURRENT_KEY_VAR = "MESSAGE_ENCRYPTION_KEY"
OLD_KEYS_VAR = "MESSAGE_ENCRYPTION_OLD_KEYS"
_KEY_VARS = {"current": CURRENT_KEY_VAR, "old": OLD_KEYS_VAR}

_PLACEHOLDERS = ("changeme", "change-me", "change_me", "changethis", "secret", "example", "xxx")
_MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class SigningKeys:
    """Independent subkeys of the server secret, one per purpose."""

    token_key: bytes
    link_key: bytes
    app_password_key: bytes

    def __repr__(self) -> str:
        return "SigningKeys(<redacted>)"


def _subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"cordvault/drive/v1/" + purpose.encode(), hashlib.sha256).digest()


def signing_keys_from_secret(secret: str) -> SigningKeys:
    """Derive the token and link keys from a secret string (golden vectors use this)."""
    raw = secret.encode()
    return SigningKeys(
        token_key=_subkey(raw, "token"),
        link_key=_subkey(raw, "link"),
        app_password_key=_subkey(raw, "app-password"),
    )


def crypto_error(exc: CryptoError) -> CordvaultError:
    """The ``CordvaultError`` a crypto failure is reported as (see the module docstring)."""
    if isinstance(exc, InvalidKey):
        variable = _KEY_VARS[exc.role]
        return CordvaultError(
            ErrorCode.INVALID_SETTINGS,
            f"{variable} must be base64 of exactly 32 random bytes "
            "(generate one with: openssl rand -base64 32)",
            details={"names": [variable]},
        )
    return CordvaultError(ErrorCode.INTEGRITY_ERROR, exc.message, details=dict(exc.details))


def _read_or_create(path: Path, make: str) -> str:
    """Read ``path``; create it with ``make`` (0600, O_EXCL) when absent. Race-safe."""
    value = read_or_create_secret(path, lambda: (make + "\n").encode()).decode().strip()
    if not value:
        raise CordvaultError(ErrorCode.INVALID_SETTINGS, f"{path.name} in DATA_DIR is empty")
    return value


def load_signing_keys(settings: Settings) -> SigningKeys:
    """The signing keys from ``DRIVE_SECRET_KEY`` or the generated secret file."""
    if settings.drive_secret_key is not None:
        secret = settings.drive_secret_key.get_secret_value().strip()
        lowered = secret.lower()
        if len(secret) < _MIN_SECRET_CHARS or any(p in lowered for p in _PLACEHOLDERS):
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "DRIVE_SECRET_KEY must be a random value of at least 32 characters "
                "(placeholder values are refused)",
                details={"names": ["DRIVE_SECRET_KEY"]},
            )
    else:
        secret = _read_or_create(settings.data_dir / "drive_secret.key", secrets.token_urlsafe(48))
    register_secret(secret)
    return signing_keys_from_secret(secret)


def keyring_from_values(value: str, old: Sequence[str] = ()) -> MasterKeyring:
    """The keyring from ``MESSAGE_ENCRYPTION_KEY``'s value and old keys' values (e.g. of
    ``MESSAGE_ENCRYPTION_OLD_KEYS``); blank old entries are ignored.

    Raises ``CordvaultError(INVALID_SETTINGS)`` naming the variable, never echoing the value.
    The values are registered with the log redactor.
    """
    try:
        ring = MasterKeyring.from_base64(value, old)
    except CryptoError as exc:
        raise crypto_error(exc) from None
    for v in (value, *old):
        register_secret(v.strip())
    return ring


def keyring_from_settings(settings: Settings) -> MasterKeyring:
    """The keyring from the settings; a missing key is ``CordvaultError(MISSING_SETTINGS)``."""
    require(settings, CURRENT_KEY_VAR)
    assert settings.message_encryption_key is not None  # checked by require()
    old_value = settings.message_encryption_old_keys
    old = old_value.get_secret_value().split(",") if old_value is not None else []
    return keyring_from_values(settings.message_encryption_key.get_secret_value(), old)


def load_keyring(settings: Settings) -> MasterKeyring:
    """The master keyring; generates a local-only default key as described above."""
    if (
        settings.message_encryption_key is None
        and settings.storage_backend.strip().lower() == "local"
    ):
        value = _read_or_create(
            settings.data_dir / "drive_master.key",
            base64.b64encode(secrets.token_bytes(32)).decode(),
        )
        return keyring_from_values(value)
    return keyring_from_settings(settings)
