"""Link or zip -> encrypted result blob: the one pipeline behind a job and ``analyze --blob``.

:func:`produce_blob` is the only code that chains download, analysis, gzip and encryption. The
job's analysis process (:mod:`cordvault.insights.jobs.analysis_process`) and the CLI's
``cordvault analyze --blob`` both call it; neither assembles the steps itself.

Contract of ``produce_blob(source, workdir, out, upn, settings=, package_id=, ...)``:

1. ``source`` is a :class:`PackageDownload` (a link): ``on_step(STEP_DOWNLOADING)``, then the
   package is streamed to ``workdir/package.zip`` (SSRF guard, ``DOWNLOAD_MAX_BYTES``, the
   download timeouts). A :class:`~pathlib.Path` is a zip already on disk: no download step.
2. ``on_step(STEP_ANALYZING)``, then the SQLite result is written (``sqlite_out`` when given and
   kept there, else ``workdir/result.sqlite``). A downloaded zip is deleted as soon as the
   analysis ends, success or not; a zip given as a path is never touched.
3. The SQLite file is gzipped to ``workdir/result.sqlite.gz`` (then deleted unless it is
   ``sqlite_out``), and the gzip encrypted under the UPN into ``out`` (the raw client ciphertext,
   see :mod:`cordvault.insights.blob`); the gzip is deleted.

Returns a :class:`ProducedBlob` (the ciphertext path, its :class:`~cordvault.insights.blob.
BlobMeta`, the analysis summary). Every step streams in blocks: no file is ever held whole in
memory. Errors are the steps' own ``CordvaultError`` codes (``INVALID_LINK``, ``EXPIRED_LINK``,
``DOWNLOAD_*``, ``NOT_A_ZIP``, ``CORRUPT_ZIP``, ``PACKAGE_TOO_LARGE``, ``MISSING_USER_DATA``,
...). ``out`` appears only once complete. The caller owns ``workdir`` (it must exist) and removes
it; after a failure it may still hold partial intermediate files. The UPN and the link are
never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cordvault.core.settings import Settings
from cordvault.insights.analyze import AnalysisSummary, ProgressCallback, analyze_package
from cordvault.insights.blob import BlobMeta, encrypt_blob, gzip_file
from cordvault.insights.download import download_package

#: Step names reported through ``on_step`` (the job states the runner records).
STEP_DOWNLOADING = "DOWNLOADING"
STEP_ANALYZING = "ANALYZING"

StepCallback = Callable[[str], None]


@dataclass(frozen=True, repr=False)
class PackageDownload:
    """A package still to be fetched: its link (a secret: no repr) and the accepted
    ``DL_ZIP_WHITELISTED_DOMAINS`` prefixes (see ``package_links.whitelisted_prefixes``)."""

    link: str
    prefixes: list[str] = field(default_factory=list)


#: Where a package comes from: a link to download, or a zip already on disk.
PackageSource = PackageDownload | Path


@dataclass(frozen=True)
class ProducedBlob:
    """What :func:`produce_blob` made (no secrets)."""

    ciphertext: Path
    meta: BlobMeta
    summary: AnalysisSummary


def produce_blob(
    source: PackageSource,
    workdir: Path,
    out: Path,
    upn: str,
    *,
    settings: Settings,
    package_id: str,
    on_step: StepCallback | None = None,
    progress: ProgressCallback | None = None,
    sqlite_out: Path | None = None,
) -> ProducedBlob:
    """Download (if a link), analyse, gzip and encrypt a package into ``out``: see the module
    docstring for the steps, the files left behind and the errors."""
    step = on_step or (lambda _name: None)
    if isinstance(source, PackageDownload):
        step(STEP_DOWNLOADING)
        zip_path, downloaded = workdir / "package.zip", True
        download_package(source.link, zip_path, settings=settings, prefixes=source.prefixes)
    else:
        zip_path, downloaded = source, False
    step(STEP_ANALYZING)
    sqlite = sqlite_out or workdir / "result.sqlite"
    try:
        summary = analyze_package(
            zip_path, sqlite, settings=settings, package_id=package_id, progress=progress
        )
    finally:
        if downloaded:
            zip_path.unlink(missing_ok=True)  # no need to keep the package past the analysis
    gz = workdir / "result.sqlite.gz"
    gzip_file(sqlite, gz)
    if sqlite_out is None:
        sqlite.unlink()
    try:
        meta = encrypt_blob(gz, out, upn)
    finally:
        gz.unlink(missing_ok=True)
    return ProducedBlob(ciphertext=out, meta=meta, summary=summary)
