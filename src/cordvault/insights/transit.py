"""Sealing what a queued job needs (the download link, the UPN) with the server transit key.

A job waiting in the queue must carry its download link and UPN to the worker, yet neither may
be stored in clear (DB, broker, disk, logs). They are sealed with AES-256-GCM under the
*transit key* and the sealed bytes live in the job row; task messages carry the package id only.
The associated data binds a sealed value to its package id and purpose, so a sealed link cannot
be replayed onto another job. The sealed value is wiped when the job ends.

The key comes from ``TRANSIT_KEY`` (base64 of 32 bytes) or, when unset, from
``<DATA_DIR>/transit.key``, generated once with mode 0600. Every API process and worker must see
the same key (same ``DATA_DIR`` or the same ``TRANSIT_KEY``).

Error contract: a wrong key, a tampered value or another package's value ->
``CordvaultError(CORRUPT_BLOB)``; a malformed ``TRANSIT_KEY`` -> ``INVALID_SETTINGS``.

Why this lives here and not in :mod:`cordvault.crypto`: the seal is private to the insights job
queue (sealed at submission, opened by the worker, wiped when the job ends), never stored
long-term and never read by anything else, so it has no compatibility promise and no golden
vectors; ``crypto/`` holds cordvault's own versioned, long-lived drive formats. Keeping the
seal beside the queue keeps its key file, its settings and its errors in one place.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import read_or_create_secret
from cordvault.core.settings import Settings

_VERSION = b"\x01"
_NONCE = 12
_KEY_FILE = "transit.key"


class TransitKey:
    """A 32-byte key that seals job secrets and derives the blob URL signing key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise CordvaultError(ErrorCode.INVALID_SETTINGS, "TRANSIT_KEY must be 32 bytes")
        self._aead = AESGCM(key)
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> TransitKey:
        """The configured key, or the one kept in ``DATA_DIR`` (created 0600 on first use)."""
        if settings.transit_key is not None:
            try:
                raw = base64.b64decode(settings.transit_key.get_secret_value(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise CordvaultError(
                    ErrorCode.INVALID_SETTINGS, "TRANSIT_KEY is not valid base64"
                ) from exc
            return cls(raw)
        return cls(_key_from_file(settings.data_dir / _KEY_FILE))

    def seal(self, plaintext: bytes, *, package_id: str, purpose: str) -> bytes:
        """``version || nonce || AES-GCM(plaintext)`` bound to ``package_id`` and ``purpose``."""
        nonce = os.urandom(_NONCE)
        aad = _aad(package_id, purpose)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def unseal(self, sealed: bytes, *, package_id: str, purpose: str) -> bytes:
        """Inverse of :meth:`seal`; anything not sealed by this key for this job -> error."""
        if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _VERSION:
            raise CordvaultError(ErrorCode.CORRUPT_BLOB, "sealed job data is malformed")
        nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, body, _aad(package_id, purpose))
        except InvalidTag as exc:
            raise CordvaultError(
                ErrorCode.CORRUPT_BLOB, "sealed job data does not open with the transit key"
            ) from exc

    def derive(self, label: str) -> bytes:
        """An independent 32-byte subkey (e.g. for signing blob URLs)."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"cordvault/transit", info=label.encode()
        ).derive(self._key)


def _aad(package_id: str, purpose: str) -> bytes:
    return f"cordvault/job/v1\x00{package_id}\x00{purpose}".encode()


def _key_from_file(path: Path) -> bytes:
    # Created once (O_EXCL, 0600): of several processes starting at once exactly one writes it.
    data = read_or_create_secret(path, lambda: base64.b64encode(os.urandom(32)))
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CordvaultError(
            ErrorCode.INVALID_SETTINGS, f"{path.name} in DATA_DIR is not a valid transit key"
        ) from exc
