"""Drive cryptography: the chunk envelope, its segment arithmetic, and the key hierarchy.

Public names are re-exported here; the format is specified in ``docs/drive-format.md`` with
golden vectors (``tests/crypto/vectors``). This package is a leaf: it imports nothing else of
cordvault (no settings, no logging setup, no ``CordvaultError``); its failures are the types
of :mod:`cordvault.crypto.errors`, which the drive translates once at its boundary
(:func:`cordvault.drive.keys.crypto_error`).

Only cordvault's own versioned drive formats live here. The insights result blob
(``insights/blob.py``, a format dictated by the Dumpus client) and the job queue's transit seal
(``insights/transit.py``, private to the queue) stay with insights: see their docstrings.
"""

from cordvault.crypto.envelope import (
    KEY_SIZE,
    SUPPORTED_VERSIONS,
    VERSION,
    ChunkContext,
    decrypt_chunk,
    decrypt_range,
    decrypt_range_into,
    encrypt_chunk,
)
from cordvault.crypto.errors import CryptoError, DecryptionFailed, InvalidKey
from cordvault.crypto.keys import (
    WRAPPED_KEY_SIZE,
    MasterKeyring,
    decode_master_key,
    new_file_key,
    rewrap_file_key,
    unwrap_file_key,
    wrap_file_key,
    wrapped_key_id,
)
from cordvault.crypto.segments import (
    SEGMENT_OVERHEAD,
    SEGMENT_SIZE,
    ciphertext_size,
    plaintext_size,
    segment_count,
    segment_span,
)

__all__ = [
    "KEY_SIZE",
    "SEGMENT_OVERHEAD",
    "SEGMENT_SIZE",
    "SUPPORTED_VERSIONS",
    "VERSION",
    "WRAPPED_KEY_SIZE",
    "ChunkContext",
    "CryptoError",
    "DecryptionFailed",
    "InvalidKey",
    "MasterKeyring",
    "ciphertext_size",
    "decode_master_key",
    "decrypt_chunk",
    "decrypt_range",
    "decrypt_range_into",
    "encrypt_chunk",
    "new_file_key",
    "plaintext_size",
    "rewrap_file_key",
    "segment_count",
    "segment_span",
    "unwrap_file_key",
    "wrap_file_key",
    "wrapped_key_id",
]
