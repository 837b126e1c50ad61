"""The errors of :mod:`cordvault.crypto`, which imports nothing else of cordvault.

Callers translate them once at their boundary (the drive does it in
:func:`cordvault.drive.keys.crypto_error`): :class:`DecryptionFailed` is
``CordvaultError(INTEGRITY_ERROR)`` with the same message and details, :class:`InvalidKey` is
``CordvaultError(INVALID_SETTINGS)`` naming the setting the value came from.

Messages never contain key material, plaintext or file ids; ``details`` holds positions and
sizes only. Caller bugs (a key of the wrong length, an invalid range) are plain ``ValueError``.
"""

from __future__ import annotations

from typing import Literal


class CryptoError(Exception):
    """Base of every error this package raises on purpose (``ValueError`` aside)."""

    def __init__(self, message: str, details: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, int] = dict(details or {})


class DecryptionFailed(CryptoError):
    """Stored bytes that do not authenticate or cannot be what the encoder wrote: a tampered,
    swapped, reordered, truncated or extended chunk envelope, an impossible envelope size, a
    malformed or tampered wrapped key, a wrapped key bound to another file or wrapped by a
    master key that is not in the keyring. No partial plaintext is ever returned with it."""


class InvalidKey(CryptoError):
    """A master key given as text is not base64 of exactly 32 bytes.

    ``role`` says which key of a keyring it was: ``"current"`` or ``"old"``. The message never
    repeats the value.
    """

    def __init__(self, message: str, role: Literal["current", "old"]) -> None:
        super().__init__(message)
        self.role: Literal["current", "old"] = role
