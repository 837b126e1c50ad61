"""Settings of a self-contained server for tests that build the whole app themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cordvault.core.settings import Settings


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Everything in ``data_dir``, whatever the environment says: SQLite there (or
    ``database_url=...``), no broker (in-process jobs), chunks and result blobs on local disk,
    keys generated there, downloads staged there; ``overrides`` last."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "broker_url": None,
        "storage_backend": "local",
        "storage_path": None,
        "drive_secret_key": None,
        "message_encryption_key": None,
        "blob_store": "local",
        "dl_zip_tmp_path": None,
    }
    values.update(overrides)
    return Settings(**values)
