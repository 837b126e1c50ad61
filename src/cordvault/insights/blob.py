"""The encrypted result blob: the Dumpus client's wire ciphertext plus our integrity metadata.

Wire format (fixed by the client, never change it): ``AES-256-CBC(key=SHA-256(UPN), iv,
PKCS7(gzip(SQLite file bytes)))``. The client downloads exactly those ciphertext bytes and gets
the IV as hex beside them; it has no MAC. We add, *beside* the ciphertext (never inside what the
client downloads), a :class:`BlobMeta` holding a version, the IV, an HMAC-SHA256 over
``version || iv || ciphertext`` and a short key-check value, so that server-side decryption
(``/data``) tells a wrong key (``WRONG_KEY``) from tampering (``CORRUPT_BLOB``) and never
decrypts unauthenticated bytes. The full spec with the threat model is ``docs/blob-format.md``;
golden vectors are ``tests/insights/vectors/blob-v1.json``.

Everything streams in :data:`BLOCK_SIZE` blocks; no function holds a whole file in memory.
Outputs are written to a temporary file beside the destination and renamed into place only once
complete and verified (:func:`cordvault.core.files.atomic_output`), so a failure never leaves a
partial or unauthenticated file behind.
Error contract: bad metadata, unsupported version, MAC mismatch, truncation, bad padding ->
``CordvaultError(CORRUPT_BLOB)``; key-check mismatch -> ``CordvaultError(WRONG_KEY)``; bad
arguments (IV length, empty UPN) -> ``CordvaultError(INVALID_INPUT)``. Messages never contain
the UPN or any key.

Why this lives in insights and not in :mod:`cordvault.crypto`: the wire ciphertext is dictated
by the Dumpus client contract (unauthenticated AES-CBC under a key derived from the UPN), not a
format cordvault chooses, and the metadata beside it exists only for this contract; nothing but
the insights side produces or opens it. ``crypto/`` holds cordvault's own versioned drive
formats (chunk envelope, wrapped keys) with their golden vectors, free of any client's choices.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import atomic_output

BLOB_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
BLOCK_SIZE = 64 * 1024
IV_SIZE = 16
MAC_SIZE = 32
KEY_CHECK_SIZE = 16

# HKDF parameters of version 1. The salt is a fixed domain separator (the UPN is already
# high-entropy key material, so a random salt adds nothing and would have to be stored); the
# distinct ``info`` labels make the encryption, MAC and key-check keys independent.
_HKDF_SALT = b"cordvault/insights-blob"
_INFO_MAC = b"cordvault/insights-blob/v1/mac"
_INFO_KEY_CHECK = b"cordvault/insights-blob/v1/key-check"

# ".cvblob" container: magic, container version, then a fixed header for that version.
CONTAINER_MAGIC = b"CVBLOB"
CONTAINER_VERSION = 1
# container v1 header after magic+container version: blob version (B), iv, mac, key check,
# ciphertext length (unsigned 64-bit big endian).
_CONTAINER_V1 = struct.Struct(f">B{IV_SIZE}s{MAC_SIZE}s{KEY_CHECK_SIZE}sQ")


@dataclass(frozen=True)
class BlobMeta:
    """What the server stores beside the ciphertext. Holds no secret.

    ``iv`` is public (the client receives it), ``mac`` and ``key_check`` are outputs of keyed
    functions that reveal nothing usable about the key. Construction checks the field sizes and
    raises ``CordvaultError(CORRUPT_BLOB)`` when they are wrong (metadata read back from storage
    that does not have the right shape is corrupt).
    """

    version: int
    iv: bytes
    mac: bytes
    key_check: bytes

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise _corrupt("blob metadata has no integer version")
        for name, value, size in (
            ("iv", self.iv, IV_SIZE),
            ("mac", self.mac, MAC_SIZE),
            ("key_check", self.key_check, KEY_CHECK_SIZE),
        ):
            if not isinstance(value, bytes) or len(value) != size:
                raise _corrupt(f"blob metadata field {name} must be {size} bytes")

    def to_json(self) -> str:
        """Compact JSON with hex fields: ``{"version", "iv", "mac", "key_check"}``."""
        return json.dumps(
            {
                "version": self.version,
                "iv": self.iv.hex(),
                "mac": self.mac.hex(),
                "key_check": self.key_check.hex(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> BlobMeta:
        """Parse :meth:`to_json` output; anything malformed -> ``CORRUPT_BLOB``."""
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            return cls(
                version=data["version"],
                iv=bytes.fromhex(data["iv"]),
                mac=bytes.fromhex(data["mac"]),
                key_check=bytes.fromhex(data["key_check"]),
            )
        except CordvaultError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise _corrupt("blob metadata is not valid JSON of the expected shape") from exc


@dataclass(frozen=True)
class _Keys:
    enc: bytes
    mac: bytes
    key_check: bytes


def _derive_keys(upn: str, version: int) -> _Keys:
    if not upn:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the blob key material is empty")
    if version not in SUPPORTED_VERSIONS:
        raise _corrupt(f"unsupported blob version {version}")
    material = upn.encode("utf-8")

    def hkdf(info: bytes, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=info).derive(
            material
        )

    return _Keys(
        # Fixed by the client: the raw SHA-256 of the UPN, no KDF.
        enc=hashlib.sha256(material).digest(),
        mac=hkdf(_INFO_MAC, 32),
        key_check=hkdf(_INFO_KEY_CHECK, KEY_CHECK_SIZE),
    )


def gzip_file(src: Path, dst: Path) -> None:
    """Gzip ``src`` into ``dst`` deterministically (mtime 0, no file name), streaming.

    A real gzip member (not zlib, never truncated: the client crashes on a truncated gzip). The
    output appears at ``dst`` only once complete.
    """
    # filename="" keeps the temp name out of the header; mtime=0 makes it reproducible.
    with (
        _atomic_output(dst) as out,
        src.open("rb") as inp,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz,
    ):
        shutil.copyfileobj(inp, gz, BLOCK_SIZE)


def encrypt_blob(gz_path: Path, out_path: Path, upn: str, *, iv: bytes | None = None) -> BlobMeta:
    """Encrypt ``gz_path`` into the raw client ciphertext at ``out_path``; return its metadata.

    ``iv`` defaults to 16 random bytes; passing one is for test vectors only (a reused IV
    under the same key leaks equal plaintext prefixes).
    """
    if iv is None:
        iv = os.urandom(IV_SIZE)
    if len(iv) != IV_SIZE:
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"the IV must be {IV_SIZE} bytes")
    keys = _derive_keys(upn, BLOB_VERSION)
    encryptor = Cipher(algorithms.AES256(keys.enc), modes.CBC(iv)).encryptor()
    padder = padding.PKCS7(128).padder()
    mac = _new_mac(keys.mac, BLOB_VERSION, iv)
    with _atomic_output(out_path) as out, gz_path.open("rb") as inp:
        for block in _blocks(inp):
            ct = encryptor.update(padder.update(block))
            mac.update(ct)
            out.write(ct)
        ct = encryptor.update(padder.finalize()) + encryptor.finalize()
        mac.update(ct)
        out.write(ct)
    return BlobMeta(version=BLOB_VERSION, iv=iv, mac=mac.digest(), key_check=keys.key_check)


def decrypt_blob(ct_path: Path, meta: BlobMeta, upn: str, out_gz: Path) -> None:
    """Verify then decrypt ``ct_path`` into ``out_gz`` (the gzip of the SQLite file).

    Order: version supported, key check (``WRONG_KEY``), ciphertext shape and MAC over the whole
    file (``CORRUPT_BLOB``) - all before a single plaintext byte is written. The decrypting pass
    recomputes the MAC too, so a file swapped between the two passes is still caught; its
    output is discarded unless that second MAC matches and the padding is valid.
    """
    keys = _derive_keys(upn, meta.version)
    if not hmac.compare_digest(keys.key_check, meta.key_check):
        raise CordvaultError(ErrorCode.WRONG_KEY, "the key does not match this blob")
    try:
        size = ct_path.stat().st_size
    except FileNotFoundError as exc:
        raise CordvaultError(ErrorCode.NOT_FOUND, "the blob file does not exist") from exc
    if size == 0 or size % IV_SIZE:
        raise _corrupt("the blob ciphertext has an impossible length (truncated or extended)")
    with ct_path.open("rb") as inp:
        mac = _new_mac(keys.mac, meta.version, meta.iv)
        for block in _blocks(inp):
            mac.update(block)
    if not hmac.compare_digest(mac.digest(), meta.mac):
        raise _corrupt("the blob failed its integrity check")

    decryptor = Cipher(algorithms.AES256(keys.enc), modes.CBC(meta.iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    mac = _new_mac(keys.mac, meta.version, meta.iv)
    with _atomic_output(out_gz) as out, ct_path.open("rb") as inp:
        for block in _blocks(inp):
            mac.update(block)
            out.write(unpadder.update(decryptor.update(block)))
        if not hmac.compare_digest(mac.digest(), meta.mac):
            raise _corrupt("the blob changed while it was being decrypted")
        try:
            out.write(unpadder.update(decryptor.finalize()) + unpadder.finalize())
        except ValueError as exc:
            raise _corrupt("the blob has invalid padding") from exc


def write_container(meta: BlobMeta, ct_path: Path, out_path: Path) -> None:
    """Write a self-describing ``.cvblob`` file: magic, container version, meta, ciphertext."""
    size = ct_path.stat().st_size
    header = CONTAINER_MAGIC + bytes([CONTAINER_VERSION])
    header += _CONTAINER_V1.pack(meta.version, meta.iv, meta.mac, meta.key_check, size)
    with _atomic_output(out_path) as out, ct_path.open("rb") as inp:
        out.write(header)
        if _copy_exact(inp, out, size) != size or inp.read(1):
            # The source changed under us; raising inside the block keeps nothing at out_path.
            raise _corrupt("the ciphertext changed while it was being packed")


def read_container(path: Path, out_ct: Path) -> BlobMeta:
    """Read a ``.cvblob`` file: write its ciphertext to ``out_ct``, return its metadata.

    Checks the magic, the container version and that the file holds exactly the announced
    number of ciphertext bytes (truncated or extended -> ``CORRUPT_BLOB``, ``out_ct`` not
    written). Authenticity is checked by :func:`decrypt_blob`, which needs the key.
    """
    with path.open("rb") as inp:
        prefix = inp.read(len(CONTAINER_MAGIC) + 1)
        if len(prefix) < len(CONTAINER_MAGIC) + 1 or prefix[:-1] != CONTAINER_MAGIC:
            raise _corrupt("not a cordvault blob container (bad magic)")
        if prefix[-1] != CONTAINER_VERSION:
            raise _corrupt(f"unsupported blob container version {prefix[-1]}")
        raw = inp.read(_CONTAINER_V1.size)
        if len(raw) != _CONTAINER_V1.size:
            raise _corrupt("the blob container header is truncated")
        version, iv, mac, key_check, size = _CONTAINER_V1.unpack(raw)
        meta = BlobMeta(version=version, iv=iv, mac=mac, key_check=key_check)
        if version not in SUPPORTED_VERSIONS:
            raise _corrupt(f"unsupported blob version {version}")
        with _atomic_output(out_ct) as out:
            if _copy_exact(inp, out, size) != size:
                raise _corrupt("the blob container is truncated")
            if inp.read(1):
                raise _corrupt("the blob container has trailing bytes")
    return meta


def _corrupt(message: str) -> CordvaultError:
    return CordvaultError(ErrorCode.CORRUPT_BLOB, message)


def _new_mac(key: bytes, version: int, iv: bytes) -> hmac.HMAC:
    # MAC input = version (1 byte) || iv (16 bytes) || ciphertext: fixed-size prefix fields, so
    # the encoding is unambiguous without length prefixes.
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(bytes([version]) + iv)
    return mac


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(BLOCK_SIZE):
        yield block


def _copy_exact(inp: BinaryIO, out: BinaryIO, size: int) -> int:
    """Copy up to ``size`` bytes; return how many were available."""
    copied = 0
    while copied < size:
        block = inp.read(min(BLOCK_SIZE, size - copied))
        if not block:
            break
        out.write(block)
        copied += len(block)
    return copied


@contextmanager
def _atomic_output(dst: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``dst``; rename it onto ``dst`` on success, delete it on error."""
    if not dst.parent.is_dir():
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the output folder does not exist")
    with atomic_output(dst) as out:
        yield out
