"""What a job runner needs, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.bus import Notify, no_notify
from cordvault.core.files import make_private_dirs
from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker
from cordvault.insights.blobstore import BlobStore, open_blob_store
from cordvault.insights.transit import TransitKey

JOB_STEP = "insights-job"
"""Topic of job news: ``{"package_id", "step"}`` when a job is claimed, changes step or ends
(the live adapter tells a client that proved it holds the package's UPN). A claim also moves
every queued job one place: listeners re-read the positions they care about."""


@dataclass
class JobsContext:
    """Settings, database sessions, the transit key and the blob store of one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    transit: TransitKey
    blobs: BlobStore
    notify: Notify = field(default=no_notify)
    """Job news (:data:`JOB_STEP`): the composition root points it at its event bus."""

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine | None = None, notify: Notify = no_notify
    ) -> JobsContext:
        """Open everything from ``settings`` (reusing ``engine`` when given)."""
        engine = engine or open_engine(settings.effective_database_url)
        transit = TransitKey.from_settings(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            transit=transit,
            blobs=open_blob_store(settings, transit),
            notify=notify,
        )


def open_engine(url: str) -> Engine:
    """The engine job code reads and writes through.

    On SQLite each transaction takes the write lock first (``write_lock_first``): enqueue,
    claim, release and delete read then write, and must wait for a concurrent writer rather
    than fail with "database is locked". PostgreSQL needs nothing. The status poll reads
    through its own autocommit engine and never queues behind this lock.
    """
    return create_engine_for(url, write_lock_first=True)


def tmp_root(settings: Settings) -> Path:
    """``DL_ZIP_TMP_PATH`` or ``<DATA_DIR>/tmp``: downloads, uploads and job work dirs."""
    root = settings.dl_zip_tmp_path or settings.data_dir / "tmp"
    make_private_dirs(root)
    return root


def upload_path(settings: Settings, package_id: str) -> Path:
    """Where an uploaded package waits for its job (deleted when the job ends)."""
    folder = tmp_root(settings) / "uploads"
    make_private_dirs(folder)
    return folder / f"{package_id}.zip"
