"""Build the configured chunk store from the settings.

``STORAGE_BACKEND=local`` -> :class:`LocalChunkStore` at ``STORAGE_PATH`` (default
``<DATA_DIR>/chunks``); ``discord`` -> ``cordvault.storage.discord_backend.open_discord_store
(settings)``, imported only when chosen so the local backend needs none of its dependencies.
An unknown backend name -> ``CordvaultError(INVALID_SETTINGS)``.
"""

from __future__ import annotations

import importlib
from typing import cast

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.storage.base import ChunkStore
from cordvault.storage.local import LocalChunkStore

BACKENDS = ("local", "discord")


def open_chunk_store(settings: Settings) -> ChunkStore:
    """Open the chunk store ``settings.storage_backend`` names (case-insensitive)."""
    name = settings.storage_backend.strip().lower()
    if name == "local":
        return LocalChunkStore(settings.storage_path or settings.data_dir / "chunks")
    if name == "discord":
        try:
            module = importlib.import_module("cordvault.storage.discord_backend")
        except ModuleNotFoundError as exc:
            if exc.name != "cordvault.storage.discord_backend":
                raise
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "STORAGE_BACKEND=discord is not available in this build",
                details={"names": ["STORAGE_BACKEND"]},
            ) from None
        return cast(ChunkStore, module.open_discord_store(settings))
    raise CordvaultError(
        ErrorCode.INVALID_SETTINGS,
        f"STORAGE_BACKEND must be one of: {', '.join(BACKENDS)}",
        details={"names": ["STORAGE_BACKEND"]},
    )
