"""``cordvault drive`` trash / versions / quota / search / folder sharing commands, end to end
against a real uvicorn server (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.drive.support import PASSWORD
from tests.drive.test_cli import _Cli, _Server, cli, server  # noqa: F401 - fixtures


def test_trash_versions_quota_search_and_folder_sharing_commands(
    server: _Server,  # noqa: F811
    cli: _Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    for name in ("alice", "bob"):
        cli("user", "create", name, "--password-stdin", stdin=PASSWORD + "\n")
    cli("drive", "login", server.url, "--name", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    cli("drive", "mkdir", "/Projets")
    local = tmp_path / "Été.txt"
    local.write_bytes(b"first")
    cli("drive", "put", str(local), "/Projets/")
    local.write_bytes(b"second")
    cli("drive", "put", str(local), "/Projets/", "--on-conflict", "overwrite")
    # Versions: listed, downloaded, restored.
    rows = cli("drive", "versions", "/Projets/Été.txt").stdout
    version_id = rows.split()[0]
    old = tmp_path / "old.txt"
    cli("drive", "version-get", "/Projets/Été.txt", version_id, str(old))
    assert old.read_bytes() == b"first"
    assert "now version 3" in cli("drive", "version-restore", "/Projets/Été.txt", version_id).stdout
    # Search, case- and accent-insensitive.
    assert "Été.txt" in cli("drive", "search", "ete").stdout
    # Trash: rm, list, restore by old path.
    cli("drive", "rm", "/Projets/Été.txt")
    assert "/Projets/Été.txt" in cli("drive", "trash").stdout
    assert "restored" in cli("drive", "restore", "/Projets/Été.txt").stdout
    # Quota (alice is the administrator): set bob's, see everyone's.
    cli("drive", "quota", "bob", "--set", "1M")
    assert "1048576 (custom)" in cli("drive", "quota", "--all").stdout
    assert "alice" in cli("drive", "quota").stdout
    # Folder sharing and a folder link.
    cli("drive", "share-folder", "/Projets", "bob", "--write")
    url = cli("drive", "folder-link", "/Projets").stdout.strip()
    assert "/api/drive/fl/f1." in url
    listing = httpx.get(url).json()
    assert [i["name"] for i in listing["items"]] == ["Été.txt"]
    bad = cli("drive", "quota", "bob", "--set", "lots", ok=False)
    assert bad.returncode == 3
