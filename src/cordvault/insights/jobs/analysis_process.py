"""The separate process that does a job's heavy work: download, analyse, gzip, encrypt.

The work itself is :func:`cordvault.insights.pipeline.produce_blob`. It runs apart from the API
and from the job runner so that the API stays responsive and a job can be aborted by killing
it. It never touches the database: it reports over a pipe (``("step", name)``, then
``("done", blob_meta_json)`` or ``("error", code, message)``) and leaves ``blob.bin`` in its
work dir. If its parent dies (kill -9) it exits too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import configure_logging
from cordvault.core.settings import Settings

log = logging.getLogger(__name__)

BLOB_NAME = "blob.bin"
ANALYSIS_NICENESS = 19


@dataclass(frozen=True, repr=False)
class AnalysisSpec:
    """One attempt's input. Holds the link and UPN: never log or persist it."""

    package_id: str
    upn: str
    link: str | None
    zip_path: Path | None
    workdir: Path
    prefixes: list[str]


def run(conn: Connection, settings: Settings, spec: AnalysisSpec) -> None:
    """Process entry point (spawned)."""
    configure_logging(settings.debug_logging, fmt=settings.log_format)
    _exit_with_parent(os.getppid())
    # Analysis is batch work; the API beside it is interactive. A lower priority (inherited by
    # the analysis pool) keeps /status fast while a job saturates the cores.
    with contextlib.suppress(OSError):
        os.nice(ANALYSIS_NICENESS)
    try:
        meta = _work(conn, settings, spec)
    except CordvaultError as exc:
        conn.send(("error", str(exc.code), exc.message))
    except Exception as exc:
        log.error("analysis failed with %s", type(exc).__name__, exc_info=settings.debug_logging)
        conn.send(("error", ErrorCode.UNKNOWN_ERROR.value, f"unexpected {type(exc).__name__}"))
    else:
        conn.send(("done", meta))
    finally:
        conn.close()


def _work(conn: Connection, settings: Settings, spec: AnalysisSpec) -> str:
    from cordvault.insights.pipeline import PackageDownload, PackageSource, produce_blob

    source: PackageSource
    if spec.zip_path is not None:
        source = spec.zip_path
    else:
        assert spec.link is not None
        source = PackageDownload(spec.link, spec.prefixes)
    produced = produce_blob(
        source,
        spec.workdir,
        spec.workdir / BLOB_NAME,
        spec.upn,
        settings=settings,
        package_id=spec.package_id,
        on_step=lambda step: conn.send(("step", step)),
    )
    return produced.meta.to_json()


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the parent is gone (a kill -9'd worker must not leave us running)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(70)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
