"""Key hierarchy: master keyring -> wrapped per-file data keys.

Each file gets its own random 32-byte data key (:func:`new_file_key`) that encrypts its chunks.
The data key is stored in the metadata DB only *wrapped* (AES-256-GCM) under a key derived from
the master key ``MESSAGE_ENCRYPTION_KEY``, so rotating the master key means rewrapping a few
dozen bytes per file, never re-uploading content.

A :class:`MasterKeyring` holds the current master key plus old ones still accepted for
unwrapping during a rotation. Every master key has a short, non-secret *key id* (HKDF of the
key), written into each wrapped key so the right master is picked without trial decryption.

Wrapped key layout (version 1, ``docs/drive-format.md``)::

    "CVWK" || 0x01 || key_id (8) || nonce (12) || AES-256-GCM(wrap_key, nonce, file_key, aad)
    aad      = "CVWK" || 0x01 || key_id || file_id (UTF-8)
    wrap_key = HKDF-SHA256(master, salt=none, info="cordvault/v1/file-key-wrap", 32 bytes)
    key_id   = HKDF-SHA256(master, salt=none, info="cordvault/v1/key-id", 8 bytes)

Binding ``file_id`` means a wrapped key copied onto another file row does not unwrap.

Reading the keys from the settings (``MESSAGE_ENCRYPTION_KEY``, ``MESSAGE_ENCRYPTION_OLD_KEYS``)
and registering them with the log redactor is the drive's job (:mod:`cordvault.drive.keys`);
this module only sees key values.

Errors (:mod:`cordvault.crypto.errors`): a key value that is not base64 of exactly 32 bytes ->
:class:`InvalidKey` (never echoing the value); a wrapped key that is malformed, tampered, bound
to another file or wrapped by a master key not in the keyring -> :class:`DecryptionFailed`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Sequence
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cordvault.crypto.errors import DecryptionFailed, InvalidKey

MASTER_KEY_SIZE = 32
FILE_KEY_SIZE = 32
WRAP_MAGIC = b"CVWK"
WRAP_VERSION = 1
KEY_ID_SIZE = 8
_NONCE_SIZE = 12
_TAG_SIZE = 16
_WRAP_HEADER = WRAP_MAGIC + bytes([WRAP_VERSION])
WRAPPED_KEY_SIZE = len(_WRAP_HEADER) + KEY_ID_SIZE + _NONCE_SIZE + FILE_KEY_SIZE + _TAG_SIZE
"""Length of a version-1 wrapped file key (73 bytes)."""


def _hkdf(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


def decode_master_key(value: str, role: Literal["current", "old"] = "current") -> bytes:
    """A master key from base64 text (standard or URL-safe, padding optional, surrounding
    whitespace ignored) of exactly 32 bytes; anything else is :class:`InvalidKey` (``role``
    is passed on to it)."""
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MASTER_KEY_SIZE:
        raise InvalidKey("a master key must be base64 of exactly 32 bytes", role)
    return raw


class _MasterKey:
    """One master key and what is derived from it. Holds secrets: never logged or repr'd."""

    __slots__ = ("_master", "key_id", "wrap")

    def __init__(self, master: bytes) -> None:
        self._master = master
        self.key_id = _hkdf(master, b"cordvault/v1/key-id", KEY_ID_SIZE)
        self.wrap = AESGCM(_hkdf(master, b"cordvault/v1/file-key-wrap", 32))

    def derive(self, purpose: str, length: int) -> bytes:
        return _hkdf(self._master, b"cordvault/v1/" + purpose.encode(), length)

    def __repr__(self) -> str:
        return f"<master key {self.key_id.hex()}>"


class MasterKeyring:
    """The current master key plus old ones accepted for unwrapping during a rotation.

    Wrapping always uses the current key; unwrapping picks the key named by the wrapped key's
    id. ``repr`` shows key ids only.
    """

    def __init__(self, current: bytes, old: Sequence[bytes] = ()) -> None:
        """Build from raw 32-byte keys (``ValueError`` otherwise); prefer the classmethods."""
        for key in (current, *old):
            if len(key) != MASTER_KEY_SIZE:
                raise ValueError("master keys must be 32 bytes")
        self._current = _MasterKey(bytes(current))
        self._by_id: dict[bytes, _MasterKey] = {self._current.key_id: self._current}
        for key in old:
            entry = _MasterKey(bytes(key))
            self._by_id.setdefault(entry.key_id, entry)

    @classmethod
    def from_base64(cls, value: str, old: Sequence[str] = ()) -> MasterKeyring:
        """Build from base64 key values (:func:`decode_master_key`): the current key and old
        ones still accepted for unwrapping; blank old entries are ignored.

        Raises :class:`InvalidKey` (``role`` ``"current"`` or ``"old"``), never echoing a value.
        """
        current = decode_master_key(value, "current")
        olds = [decode_master_key(v, "old") for v in old if v.strip()]
        return cls(current, olds)

    @property
    def current_id(self) -> str:
        """Hex id of the current master key (16 characters, safe to log and store)."""
        return self._current.key_id.hex()

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every key in the ring, current first."""
        return tuple(k.hex() for k in self._by_id)

    def derive_key(self, purpose: str, length: int = 32) -> bytes:
        """A subkey of the *current* master key for ``purpose`` (HKDF-SHA256, info
        ``"cordvault/v1/" + purpose``), e.g. for signing link tokens. Distinct purposes give
        independent keys; the file-key wrapping key cannot be obtained this way.
        """
        if purpose in ("key-id", "file-key-wrap"):
            raise ValueError("reserved key purpose")
        return self._current.derive(purpose, length)

    def _wrapping(self, key_id: bytes) -> _MasterKey | None:
        return self._by_id.get(key_id)

    def _current_key(self) -> _MasterKey:
        return self._current

    def __repr__(self) -> str:
        return f"MasterKeyring(current={self.current_id}, keys={len(self._by_id)})"


def new_file_key() -> bytes:
    """A fresh random 32-byte file data key."""
    return os.urandom(FILE_KEY_SIZE)


def _aad(key_id: bytes, file_id: str) -> bytes:
    return _WRAP_HEADER + key_id + file_id.encode()


def _wrap(
    keyring: MasterKeyring, file_key: bytes, file_id: str, nonces: Callable[[int], bytes]
) -> bytes:
    if len(file_key) != FILE_KEY_SIZE:
        raise ValueError("file key must be 32 bytes")
    master = keyring._current_key()
    nonce = nonces(_NONCE_SIZE)
    sealed = master.wrap.encrypt(nonce, file_key, _aad(master.key_id, file_id))
    return _WRAP_HEADER + master.key_id + nonce + sealed


def wrap_file_key(keyring: MasterKeyring, file_key: bytes, file_id: str) -> bytes:
    """Wrap ``file_key`` for file ``file_id`` under the keyring's current master key."""
    return _wrap(keyring, file_key, file_id, os.urandom)


def _wrap_error(reason: str) -> DecryptionFailed:
    return DecryptionFailed(f"cannot unwrap file key: {reason}")


def wrapped_key_id(wrapped: bytes) -> str:
    """Hex id of the master key that wrapped ``wrapped`` (e.g. to find keys left to rewrap);
    :class:`DecryptionFailed` if it is not a wrapped key."""
    if len(wrapped) != WRAPPED_KEY_SIZE or not wrapped.startswith(WRAP_MAGIC):
        raise _wrap_error("not a wrapped file key")
    start = len(_WRAP_HEADER)
    return wrapped[start : start + KEY_ID_SIZE].hex()


def unwrap_file_key(keyring: MasterKeyring, wrapped: bytes, file_id: str) -> bytes:
    """Recover the file key; raises :class:`DecryptionFailed` if ``wrapped`` is malformed,
    tampered, bound to another file or wrapped by a key not in ``keyring``."""
    if len(wrapped) != WRAPPED_KEY_SIZE or not wrapped.startswith(WRAP_MAGIC):
        raise _wrap_error("not a wrapped file key")
    if wrapped[len(WRAP_MAGIC)] != WRAP_VERSION:
        raise _wrap_error(f"unsupported wrapped-key version {wrapped[len(WRAP_MAGIC)]}")
    pos = len(_WRAP_HEADER)
    key_id = wrapped[pos : pos + KEY_ID_SIZE]
    nonce = wrapped[pos + KEY_ID_SIZE : pos + KEY_ID_SIZE + _NONCE_SIZE]
    sealed = wrapped[pos + KEY_ID_SIZE + _NONCE_SIZE :]
    master = keyring._wrapping(key_id)
    if master is None:
        raise _wrap_error(f"wrapped by master key {key_id.hex()}, which is not configured")
    try:
        return master.wrap.decrypt(nonce, sealed, _aad(key_id, file_id))
    except InvalidTag:
        raise _wrap_error("authentication failed (tampered or belongs to another file)") from None


def rewrap_file_key(old: MasterKeyring, new: MasterKeyring, wrapped: bytes, file_id: str) -> bytes:
    """Unwrap with ``old`` and wrap again under ``new``'s current key (master key rotation).

    Errors are those of :func:`unwrap_file_key`.
    """
    return wrap_file_key(new, unwrap_file_key(old, wrapped, file_id), file_id)
