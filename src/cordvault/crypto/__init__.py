"""Drive cryptography: the chunk envelope, its segment arithmetic, and the key hierarchy.

Public names are re-exported here; the format is specified in ``docs/drive-format.md``.
"""

from cordvault.crypto.envelope import (
    KEY_SIZE,
    SUPPORTED_VERSIONS,
    VERSION,
    ChunkContext,
    decrypt_chunk,
    decrypt_range,
    encrypt_chunk,
)
from cordvault.crypto.keys import (
    WRAPPED_KEY_SIZE,
    MasterKeyring,
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
    "MasterKeyring",
    "ciphertext_size",
    "decrypt_chunk",
    "decrypt_range",
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
