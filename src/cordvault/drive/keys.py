"""The drive's server-side secrets: the token/link signing secret and the master keyring.

``DRIVE_SECRET_KEY`` signs login tokens (JWT, HS256) and download links (HMAC-SHA256) through
two independent subkeys. Unset, a random secret is generated once into
``DATA_DIR/drive_secret.key`` (mode 0600, created atomically so concurrent API processes agree).
Placeholder-looking values are refused with ``INVALID_SETTINGS``.

``MESSAGE_ENCRYPTION_KEY`` wraps the per-file keys. With the local backend and no key set, one is
generated into ``DATA_DIR/drive_master.key`` (0600) so the embedded default runs out of the box;
any other backend requires it explicitly (``MISSING_SETTINGS``): chunks on Discord are useless
without a key the operator keeps somewhere safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import register_secret
from cordvault.core.settings import Settings
from cordvault.crypto import MasterKeyring

_PLACEHOLDERS = ("changeme", "change-me", "change_me", "changethis", "secret", "example", "xxx")
_MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class SigningKeys:
    """Independent subkeys of the server secret, one per purpose."""

    token_key: bytes
    link_key: bytes

    def __repr__(self) -> str:
        return "SigningKeys(<redacted>)"


def _subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"cordvault/drive/v1/" + purpose.encode(), hashlib.sha256).digest()


def signing_keys_from_secret(secret: str) -> SigningKeys:
    """Derive the token and link keys from a secret string (golden vectors use this)."""
    raw = secret.encode()
    return SigningKeys(token_key=_subkey(raw, "token"), link_key=_subkey(raw, "link"))


def _read_or_create(path: Path, make: str) -> str:
    """Read ``path``; create it with ``make`` (0600, O_EXCL) when absent. Race-safe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
        if value:
            return value
        # Another process created it and has not written yet; its write is a few bytes away.
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return value
            os.sched_yield()
        raise CordvaultError(
            ErrorCode.INVALID_SETTINGS, f"{path.name} in DATA_DIR is empty"
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(make + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return make


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
        return MasterKeyring.from_settings_value(value)
    return MasterKeyring.from_settings(settings)
