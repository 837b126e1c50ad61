"""CLI parity with the API, end to end against a real server: folders and many files with a
summary (keeping going past a failure), one-way sync, publish, transfer, links, shares, usage,
merge, app passwords, account state, ``--json`` listings. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.drive.support import PASSWORD
from tests.drive.test_cli import _Cli, _Server, cli, server

__all__ = ["cli", "server"]  # the fixtures, imported for pytest


def _json(cli: _Cli, *args: str) -> object:
    return json.loads(cli(*args, "--json").stdout)


def test_folders_many_files_and_sync(server: _Server, cli: _Cli, tmp_path: Path) -> None:
    cli("user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    cli("drive", "login", server.url, "--name", "alice", "--password-stdin", stdin=PASSWORD)
    src = tmp_path / "photos"
    (src / "2024" / "summer").mkdir(parents=True)
    (src / "2024" / "summer" / "beach.jpg").write_bytes(b"jpeg" * 1000)
    (src / "2024" / "notes é.txt").write_text("notes")
    (src / "empty.txt").write_bytes(b"")
    single = tmp_path / "single.txt"
    single.write_text("one")
    # A folder without -r and a missing file fail; the rest goes up; the summary says so.
    put = cli("drive", "put", str(src), str(tmp_path / "missing.txt"), str(single), "/b", ok=False)
    assert put.returncode == 3  # the first failure: INVALID_INPUT (a folder without -r)
    assert "1 uploaded, 2 failed" in put.stdout
    assert "error NOT_FOUND" in put.stderr
    put = cli("drive", "put", "-r", str(src), "/b")
    assert "3 uploaded, 0 failed" in put.stdout
    names = sorted(i["name"] for i in _json(cli, "drive", "ls", "/b/photos/2024"))  # type: ignore[union-attr]
    assert names == ["notes é.txt", "summer"]
    out = tmp_path / "out"
    got = cli("drive", "get", "-r", "/b/photos", "/b/single.txt", str(out))
    assert "4 downloaded, 0 failed" in got.stdout
    assert (out / "photos" / "2024" / "summer" / "beach.jpg").read_bytes() == b"jpeg" * 1000
    assert (out / "photos" / "empty.txt").read_bytes() == b""
    assert (out / "single.txt").read_text() == "one"
    # sync: only changed files are sent; --dry-run changes nothing; --delete prunes.
    synced = cli("drive", "sync", str(src), "/b/photos")
    assert "0 sent, 0 failed, 3 unchanged" in synced.stdout
    (src / "2024" / "notes é.txt").write_text("notes, edited")
    (src / "empty.txt").unlink()
    dry = cli("drive", "sync", "--dry-run", "--delete", str(src), "/b/photos")
    assert "would send 2024/notes é.txt" in dry.stdout
    assert "would delete empty.txt" in dry.stdout
    assert "empty.txt" in cli("drive", "ls", "/b/photos").stdout
    cli("drive", "sync", "--delete", str(src), "/b/photos")
    assert "empty.txt" not in cli("drive", "ls", "/b/photos").stdout
    back = tmp_path / "back.txt"
    cli("drive", "get", "/b/photos/2024/notes é.txt", str(back))
    assert back.read_text() == "notes, edited"


def test_everything_the_api_does_has_a_command(server: _Server, cli: _Cli, tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        cli("user", "create", name, "--password-stdin", stdin=PASSWORD + "\n")
    cli("drive", "login", server.url, "--name", "alice", "--password-stdin", stdin=PASSWORD)
    local = tmp_path / "doc.txt"
    local.write_text("shared doc")
    cli("drive", "put", str(local), "/a/doc.txt")
    cli("drive", "publish", "/a/doc.txt")
    assert _json(cli, "drive", "ls", "/a/doc.txt")[0]["public"] is True  # type: ignore[index]
    cli("drive", "unpublish", "/a/doc.txt")
    assert _json(cli, "drive", "ls", "/a/doc.txt")[0]["public"] is False  # type: ignore[index]
    cli("drive", "share", "/a/doc.txt", "bob", "--write")
    assert _json(cli, "drive", "shares", "list", "/a/doc.txt") == [
        {"user": "bob", "access": "write"}
    ]
    url = cli("drive", "link", "/a/doc.txt").stdout.strip()
    links = _json(cli, "drive", "links", "list", "/a/doc.txt")
    assert [link["url"] for link in links] == [url]  # type: ignore[index,union-attr]
    assert "revoked 1 link(s)" in cli("drive", "links", "revoke", "/a/doc.txt").stdout
    assert httpx.get(url).status_code == 400
    usage = _json(cli, "drive", "usage", "/a")
    assert usage["files"] == 1  # type: ignore[index]
    assert usage["size"] == len("shared doc")  # type: ignore[index]
    cli("drive", "mkdir", "/c/inner")
    merged = cli("drive", "merge", "/a", "/c").stdout
    assert "1 moved" in merged
    # App passwords: create (shown once), list (never the secret), revoke.
    made = _json(cli, "drive", "app-password", "create", "laptop")
    assert len(made["password"]) > 20  # type: ignore[index]
    listed = _json(cli, "drive", "app-password", "list")
    assert [(p["name"], p["password"]) for p in listed] == [("laptop", None)]  # type: ignore[index,union-attr]
    cli("drive", "app-password", "revoke", made["id"])  # type: ignore[index]
    assert _json(cli, "drive", "app-password", "list") == []
    cli("drive", "transfer", "/c/doc.txt", "bob")
    # It left its old owner but sits in a folder they own: a folder's owner has write access
    # to everything below it (drive-api.md, "Access").
    assert _json(cli, "drive", "ls", "/c/doc.txt")[0]["access"] == "write"  # type: ignore[index]
    # Account state: disable stops sign-in at once, enable restores it; promote / demote.
    cli("user", "disable", "bob")
    with httpx.Client(base_url=server.url) as http:
        login = {"name": "bob", "password": PASSWORD}
        assert http.post("/api/auth/login", json=login).status_code == 401
        cli("user", "enable", "bob")
        assert http.post("/api/auth/login", json=login).status_code == 200
    cli("user", "promote", "bob")
    assert _json(cli, "user", "list") == [
        {"name": "alice", "is_admin": True, "disabled": False},
        {"name": "bob", "is_admin": True, "disabled": False},
    ]
    cli("user", "demote", "bob")
    assert not _json(cli, "user", "list")[1]["is_admin"]  # type: ignore[index]
    missing = cli("user", "disable", "nobody", ok=False)
    assert missing.returncode == 5
