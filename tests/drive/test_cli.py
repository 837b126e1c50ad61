"""``cordvault user`` / ``cordvault drive`` end to end against a real uvicorn server."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess as subprocess_
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.drive.conftest import CHUNK, drive_settings
from tests.drive.support import PASSWORD, random_bytes
from tests.support.live_server import serving

from cordvault.cli.app import main
from cordvault.cli.drive_client import DriveClient
from cordvault.drive.context import DriveContext
from cordvault.storage.counting import CountingChunkStore
from cordvault.web.app import create_app


@dataclass
class _Server:
    """A real uvicorn server (in a thread of this process) and its drive."""

    url: str
    drive: DriveContext


@pytest.fixture
def server(db_url: str, data_dir: Path) -> Iterator[_Server]:
    app = create_app(drive_settings(db_url, data_dir), domains=("cordvault.web.drive",))
    with serving(app, log_level="critical") as url:
        yield _Server(url, app.state.services.drive)


class _Cli:
    """Runs ``cordvault`` commands: in this process through the real entry point (fast), or
    as a child process (``subprocess=True``) where the process boundary matters."""

    def __init__(self, db_url: str, data_dir: Path, home: Path) -> None:
        self.vars = {
            "DATABASE_URL": db_url,
            "DATA_DIR": str(data_dir),
            "DRIVE_CLIENT_CONFIG": str(home / "drive.json"),
        }
        self.config = home / "drive.json"

    def __call__(
        self, *args: str, stdin: str = "", ok: bool = True, subprocess: bool = False
    ) -> subprocess_.CompletedProcess[str]:
        if subprocess:
            proc = subprocess_.run(
                [sys.executable, "-m", "cordvault", *args],
                input=stdin,
                capture_output=True,
                text=True,
                env={**os.environ, **self.vars},
                timeout=120,
                check=False,
            )
        else:
            proc = self._inproc(list(args), stdin)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    def _inproc(self, args: list[str], stdin: str) -> subprocess_.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.vars.items():
                mp.setenv(key, value)
            mp.setattr(sys, "stdin", io.StringIO(stdin))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(args)
                except SystemExit as exc:
                    code = int(exc.code or 0)
        return subprocess_.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(db_url: str, data_dir: Path, tmp_path: Path) -> _Cli:
    return _Cli(db_url, data_dir, tmp_path / "home")


def test_cli_drives_the_server_end_to_end(server: _Server, cli: _Cli, tmp_path: Path) -> None:
    assert (
        "created administrator alice"
        in cli("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n").stdout
    )
    cli("user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    assert "bob" in cli("user", "list").stdout
    bad = cli(
        "drive",
        "login",
        server.url,
        "--name",
        "alice",
        "--password-stdin",
        stdin="wrong password\n",
        ok=False,
        subprocess=True,
    )
    assert (bad.returncode, "UNAUTHORIZED" in bad.stderr) == (4, True)
    cli(
        "drive",
        "login",
        server.url,
        "--name",
        "alice",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        subprocess=True,
    )
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert PASSWORD not in cli.config.read_text()

    cli("drive", "mkdir", "/docs/sub")
    data = random_bytes(5 * CHUNK + 99, seed=7)
    local = tmp_path / "report 2024 é.bin"
    local.write_bytes(data)
    put = cli("drive", "put", str(local), "/docs/")
    assert "uploaded /docs/report 2024 é.bin" in put.stdout
    assert "1 uploaded, 0 failed" in put.stdout
    listing = cli("drive", "ls", "/docs").stdout.splitlines()
    assert listing == ["sub/", "report 2024 é.bin"]
    assert str(len(data)) in cli("drive", "ls", "-l", "/docs").stdout
    out = tmp_path / "back.bin"
    cli("drive", "get", "/docs/report 2024 é.bin", str(out))
    assert out.read_bytes() == data
    cli("drive", "mv", "/docs/report 2024 é.bin", "/docs/sub/renamed.bin")
    cli("drive", "share", "/docs/sub/renamed.bin", "bob")
    url = cli("drive", "link", "/docs/sub/renamed.bin").stdout.strip()
    assert url.startswith(server.url + "/api/drive/dl/v1.")
    assert httpx.get(url).content == data
    archive = tmp_path / "docs.zip"
    cli("drive", "zip", "/docs", str(archive))
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as z:
        assert z.namelist() == ["sub/", "sub/renamed.bin"]
        assert z.read("sub/renamed.bin") == data
    refused = cli("drive", "rm", "/docs", ok=False)
    assert refused.returncode == 3
    cli("drive", "rm", "-r", "/docs")
    missing = cli("drive", "get", "/docs/sub/renamed.bin", str(out), ok=False, subprocess=True)
    assert missing.returncode == 5
    assert "error NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_put_resumes_after_an_interruption(server: _Server, cli: _Cli, tmp_path: Path) -> None:
    cli("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    with DriveClient(server.url) as anon:
        token = anon.login("alice", PASSWORD)
    data = random_bytes(6 * CHUNK, seed=11)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    state = tmp_path / "uploads.json"
    sent: list[int] = []

    def flaky(n: int) -> None:
        sent.append(n)
        if len(sent) == 3:  # the third chunk lands, then the "connection" dies
            raise ConnectionError("connection lost")

    with DriveClient(server.url, token) as client:
        with pytest.raises(ConnectionError):
            client.upload(local, "root", "big.bin", parallel=1, state_file=state, progress=flaky)
        status = client._json("GET", f"/api/drive/uploads/{next(iter(_state(state).values()))}")
        assert status["received"] == [0, 1, 2]
        counting = CountingChunkStore(server.drive.store)
        server.drive.replace_store(counting)
        done = client.upload(local, "root", "big.bin", parallel=3, state_file=state)
        assert done["file"]["size"] == len(data)
        assert counting.counters.puts == 3  # only the chunks the server did not have
        assert _state(state) == {}
        got = tmp_path / "got.bin"
        client.download(done["file"]["id"], got)
        assert got.read_bytes() == data
        # A partial download resumes with Range + If-Range: only the rest is read.
        again = tmp_path / "again.bin"
        again.with_name("again.bin.part").write_bytes(data[: 4 * CHUNK])
        url = f"/api/drive/files/{done['file']['id']}/content"
        etag = client._http.head(url).headers["etag"]
        again.with_name("again.bin.part.etag").write_text(etag)
        counting.reset()
        assert client.download(done["file"]["id"], again) == len(data)
        assert again.read_bytes() == data
        assert 2 * CHUNK <= counting.counters.bytes_read < 3 * CHUNK


def _state(path: Path) -> dict[str, str]:
    import json

    return dict(json.loads(path.read_text()))
