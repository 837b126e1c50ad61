"""Build the configured chunk store from the settings.

``STORAGE_BACKEND=local`` -> :class:`LocalChunkStore` at ``STORAGE_PATH`` (default
``<DATA_DIR>/chunks``); ``discord`` -> ``cordvault.storage.discord.backend.open_discord_store
(settings, sessions)``, imported only when chosen so the local backend needs none of its
dependencies. ``sessions`` are the process's sessions on the main database (the composition
root's): the Discord backend keeps its ledger there instead of opening (and migrating) a second
engine. An unknown backend name -> ``CordvaultError(INVALID_SETTINGS)``.
"""

from __future__ import annotations

import importlib
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.storage.base import ChunkStore
from cordvault.storage.local import LocalChunkStore

BACKENDS = ("local", "discord")
_DISCORD_MODULE = "cordvault.storage.discord.backend"


def open_chunk_store(
    settings: Settings, sessions: sessionmaker[Session] | None = None
) -> ChunkStore:
    """Open the chunk store ``settings.storage_backend`` names (case-insensitive).

    ``sessions``: see the module docstring (without them a backend that needs the database
    opens its own engine and closes it with the store).
    """
    name = settings.storage_backend.strip().lower()
    if name == "local":
        return LocalChunkStore(settings.storage_path or settings.data_dir / "chunks")
    if name == "discord":
        try:
            module = importlib.import_module(_DISCORD_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name not in (_DISCORD_MODULE, "cordvault.storage.discord"):
                raise
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "STORAGE_BACKEND=discord is not available in this build",
                details={"names": ["STORAGE_BACKEND"]},
            ) from None
        return cast(ChunkStore, module.open_discord_store(settings, sessions))
    raise CordvaultError(
        ErrorCode.INVALID_SETTINGS,
        f"STORAGE_BACKEND must be one of: {', '.join(BACKENDS)}",
        details={"names": ["STORAGE_BACKEND"]},
    )
