"""The drive's one core object: settings, sessions, signing keys, keyring and chunk store.

Built once per process by an adapter (web app, CLI) with :meth:`DriveContext.open`; services
receive it together with a DB session. The chunk store is opened lazily (the CLI's user
commands never need it) and checked against ``DRIVE_CHUNK_SIZE`` on first use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.crypto import MasterKeyring, ciphertext_size
from cordvault.drive.keys import SigningKeys, load_keyring, load_signing_keys
from cordvault.drive.readahead import ReadAheadBudget
from cordvault.storage.base import ChunkStore, StorageError
from cordvault.storage.factory import open_chunk_store


@dataclass
class DriveContext:
    """Everything drive services need besides the DB session of the current request."""

    settings: Settings
    sessions: sessionmaker[Session]
    signing: SigningKeys
    keyring: MasterKeyring
    _store: ChunkStore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    download_budget: ReadAheadBudget = field(init=False)
    """Read-ahead of all downloads of this process (``DRIVE_DOWNLOAD_BUFFER_BYTES``)."""

    def __post_init__(self) -> None:
        self.download_budget = ReadAheadBudget(self.settings.drive_download_buffer_bytes)

    @classmethod
    def open(
        cls,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        store: ChunkStore | None = None,
    ) -> DriveContext:
        """Load keys (``INVALID_SETTINGS``/``MISSING_SETTINGS`` on bad ones); ``store``
        overrides the configured backend (tests wrap the store to count reads)."""
        ctx = cls(
            settings=settings,
            sessions=sessions,
            signing=load_signing_keys(settings),
            keyring=load_keyring(settings),
        )
        if store is not None:
            ctx._store = ctx._checked(store)
        return ctx

    @property
    def chunk_size(self) -> int:
        return self.settings.drive_chunk_size

    @property
    def store(self) -> ChunkStore:
        """The chunk store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = self._checked(open_chunk_store(self.settings, self.sessions))
            return self._store

    def storage_state(self) -> str:
        """``"ok"`` or ``"unavailable"`` for ``/health`` (opens the store on first use; a local
        store must also have a writable directory). Never raises."""
        try:
            store = self.store
        except (CordvaultError, StorageError, OSError):
            return "unavailable"
        root = getattr(store, "root", None)
        if isinstance(root, Path) and not os.access(root, os.W_OK | os.X_OK):
            return "unavailable"
        return "ok"

    def replace_store(self, store: ChunkStore) -> None:
        """Use ``store`` from now on (tests and benchmarks wrap the real one to count reads)."""
        with self._lock:
            self._store = self._checked(store)

    def _checked(self, store: ChunkStore) -> ChunkStore:
        limit = store.capabilities.max_chunk_size
        if ciphertext_size(self.chunk_size) > limit:
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                f"DRIVE_CHUNK_SIZE is too large for the storage backend (its chunks hold at "
                f"most {limit} bytes including encryption overhead)",
                details={"names": ["DRIVE_CHUNK_SIZE"]},
            )
        return store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
