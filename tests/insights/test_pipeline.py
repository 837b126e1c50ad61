"""``produce_blob``: the one zip/link -> encrypted blob pipeline (job process and CLI)."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.blob import decrypt_blob
from cordvault.insights.generator import GenOptions, generate_package
from cordvault.insights.jobs.package_links import package_id_for
from cordvault.insights.jobs.states import JobState
from cordvault.insights.pipeline import (
    STEP_ANALYZING,
    STEP_DOWNLOADING,
    PackageDownload,
    produce_blob,
)

UPN = "p" * 520


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    generate_package(path, GenOptions(variant="modern", seed=5, messages=200, events=400))
    return path


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", analyze_workers=1)


def test_steps_are_job_states() -> None:
    """The runner records the reported steps as job states."""
    assert JobState(STEP_DOWNLOADING) == JobState.DOWNLOADING
    assert JobState(STEP_ANALYZING) == JobState.ANALYZING


def test_zip_to_blob_leaves_only_the_ciphertext(tmp_path: Path, package: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    steps: list[str] = []
    before = package.read_bytes()
    produced = produce_blob(
        package,
        workdir,
        workdir / "blob.bin",
        UPN,
        settings=_settings(tmp_path),
        package_id=package_id_for(UPN),
        on_step=steps.append,
    )
    assert steps == [STEP_ANALYZING]  # a zip on disk: no download step
    assert [p.name for p in workdir.iterdir()] == ["blob.bin"]
    assert produced.ciphertext == workdir / "blob.bin"
    assert package.read_bytes() == before  # the caller's zip is never touched
    gz = tmp_path / "out.gz"
    decrypt_blob(produced.ciphertext, produced.meta, UPN, gz)
    sqlite_path = tmp_path / "out.sqlite"
    sqlite_path.write_bytes(gzip.decompress(gz.read_bytes()))
    conn = sqlite3.connect(sqlite_path)
    try:
        row = conn.execute("SELECT package_id FROM package_data").fetchone()
    finally:
        conn.close()
    assert row[0] == package_id_for(UPN) == produced.summary.package_id


def test_sqlite_out_is_kept(tmp_path: Path, package: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    kept = tmp_path / "kept.sqlite"
    produced = produce_blob(
        package,
        workdir,
        workdir / "db.ct",
        UPN,
        settings=_settings(tmp_path),
        package_id="local",
        sqlite_out=kept,
    )
    assert kept.is_file()
    assert produced.summary.sqlite_path == kept
    assert sorted(p.name for p in workdir.iterdir()) == ["db.ct"]


def test_refused_link_reports_downloading_and_leaves_no_zip(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    steps: list[str] = []
    with pytest.raises(CordvaultError) as caught:
        produce_blob(
            PackageDownload("http://127.0.0.1:9/pkg.zip"),  # loopback, not whitelisted
            workdir,
            workdir / "blob.bin",
            UPN,
            settings=_settings(tmp_path),
            package_id=package_id_for(UPN),
            on_step=steps.append,
        )
    assert caught.value.code == ErrorCode.INVALID_LINK
    assert steps == [STEP_DOWNLOADING]
    assert list(workdir.iterdir()) == []
