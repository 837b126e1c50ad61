"""State on disk is private to the server's user: 0700 folders, 0600 files, whatever the umask;
``serve`` / ``worker`` start with umask 0077; an existing data dir open to others is reported."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.settings import local_settings
from typer.testing import CliRunner

from cordvault.web.app import create_app


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default umask (0022), so only explicit modes can make things private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_app_state_is_private_whatever_the_umask(
    tmp_path: Path, usual_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "new" / "data"
    app = create_app(local_settings(data_dir))
    with TestClient(app) as client:
        assert client.get("/process/demo/blob").status_code == 200  # writes a blob
        r = client.post("/api/auth/register", json={"name": "admin", "password": "x" * 12})
        assert r.status_code == 201
        token = r.json()["token"]
        up = client.put(
            "/api/drive/upload",
            params={"path": "/f.bin"},
            content=b"data",
            headers={"authorization": f"Bearer {token}"},
        )
        assert up.status_code == 201, up.text  # writes a chunk
        db = data_dir / "cordvault.db"
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists()  # while connections are open
        assert shm.exists()
        for path in (db, wal, shm):
            assert _mode(path) == 0o600, path
        folders = [data_dir, data_dir / "chunks", data_dir / "blobs"]
        files = [p for p in (data_dir / "chunks").rglob("*") if p.is_file()]
        files += [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
        files += list(data_dir.glob("*.key"))  # generated keys and secrets
        # The upload's chunk (and, once written, the catalog's snapshot record at start).
        assert len([f for f in files if "chunks" in f.parts]) >= 1
        assert any("blobs" in f.parts for f in files)
        for folder in folders + [p for p in data_dir.rglob("*") if p.is_dir()]:
            assert _mode(folder) == 0o700, folder
        for file in files:
            assert _mode(file) == 0o600, file
    assert "accessible by other users" not in caplog.text


def test_an_open_existing_data_dir_is_reported(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        create_app(local_settings(data_dir), domains=())
    warnings = [r for r in caplog.records if "accessible by other users" in r.getMessage()]
    assert len(warnings) == 1
    assert "0755" in warnings[0].getMessage()
    assert _mode(data_dir) == 0o755  # reported, not changed behind the operator's back
    caplog.clear()
    data_dir.chmod(0o700)
    with caplog.at_level(logging.WARNING):
        create_app(local_settings(data_dir), domains=())
    assert "accessible by other users" not in caplog.text


def test_serve_and_worker_start_with_a_private_umask(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, usual_umask: None
) -> None:
    import uvicorn

    from cordvault.cli.app import build_app
    from cordvault.worker import __main__ as worker_main
    from cordvault.worker import celery_worker

    seen: dict[str, Any] = {}

    def fake_run(target: object, **kwargs: Any) -> None:
        seen["serve"] = os.umask(0o022)
        seen["kwargs"] = kwargs
        seen["target"] = target

    def fake_worker(*_args: object, **_kwargs: object) -> None:
        seen["worker"] = os.umask(0o022)

    def fake_exec(path: str, argv: list[str]) -> None:
        # `cordvault worker` execs the worker adapter: its umask is inherited through exec.
        seen["exec"] = os.umask(0o022)
        seen["argv"] = argv

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(celery_worker, "run_worker", fake_worker)
    monkeypatch.setattr(os, "execv", fake_exec)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", "7")
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:1/0")
    runner = CliRunner()
    cli = build_app()
    result = runner.invoke(cli, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["serve"] == 0o077
    assert seen["target"] == "cordvault.web.app:app_from_env"
    assert seen["kwargs"]["timeout_graceful_shutdown"] == 7
    assert seen["kwargs"]["factory"] is True
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code == 0, result.output
    assert seen["exec"] == 0o077
    assert seen["argv"][1:3] == ["-m", "cordvault.worker"]
    assert worker_main.main([]) == 0
    assert seen["worker"] == 0o077
