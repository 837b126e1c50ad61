"""Master key rotation, step 2 of ``docs/drive-format.md``: rewrap every stored file key.

Only the 73-byte wrapped keys in ``drive_files`` and in open ``drive_uploads`` change; no chunk
is re-encrypted or re-uploaded. Work goes in batches, each its own short transaction, so the
API keeps serving and a crash loses at most one batch (running it again continues). A key that
cannot be unwrapped (wrapped by a master key no longer configured) is ``INTEGRITY_ERROR``
after the batches before it were committed; the message names the key id, never a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from cordvault.crypto import CryptoError, rewrap_file_key, wrapped_key_id
from cordvault.drive import repository as repo
from cordvault.drive.context import DriveContext
from cordvault.drive.keys import crypto_error
from cordvault.drive.security_log import Kind, record

_BATCH = 500


@dataclass(frozen=True)
class RewrapReport:
    rewrapped: int
    already_current: int


def rewrap_all(ctx: DriveContext) -> RewrapReport:
    """Rewrap every file key (and open upload's key) not under the current master key."""
    ring = ctx.keyring
    current = ring.current_id
    counts = [0, 0]  # rewrapped, already current

    def rewrap(wrapped: bytes, bound_to: str) -> bytes:
        try:
            if wrapped_key_id(wrapped) == current:
                counts[1] += 1
                return wrapped
            counts[0] += 1
            return rewrap_file_key(ring, ring, wrapped, bound_to)
        except CryptoError as exc:
            raise crypto_error(exc) from None

    last = ""
    while True:
        with ctx.sessions() as db, db.begin():
            files = repo.files_after(db, last, _BATCH)
            for f in files:
                f.wrapped_key = rewrap(f.wrapped_key, f.content_id)
        if len(files) < _BATCH:
            break
        last = files[-1].id
    last = ""
    while True:
        with ctx.sessions() as db, db.begin():
            ups = repo.open_uploads_after(db, last, _BATCH)
            for up in ups:
                up.wrapped_key = rewrap(up.wrapped_key, up.id)
        if len(ups) < _BATCH:
            break
        last = ups[-1].id
    with ctx.sessions() as db, db.begin():
        record(db, Kind.KEYS_REWRAPPED, rewrapped=counts[0], already_current=counts[1])
    return RewrapReport(rewrapped=counts[0], already_current=counts[1])
