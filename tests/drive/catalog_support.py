"""Shared steps of the disaster-recovery tests: a tree of files with owners, shares and a link,
changes to it, losing the database, running `cordvault drive recover`, and checking what a
recovered drive serves."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.drive.support import DriveEnv, random_bytes

from cordvault.cli.app import main

MASTER = base64.b64encode(bytes(range(32))).decode()
SECRET = "k3JqP0vX9sLmW2aZ7cRt5yUe8iOp1nBv4hGf6dSx"
# The keys as settings (``make_env(**KEYS)``): a recovered drive must be opened with the same.
KEYS = {"message_encryption_key": MASTER, "drive_secret_key": SECRET}


@dataclass
class Tree:
    """What the drive should hold: path -> (content, owner name), plus shares."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    shared_with_bob: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    link: str = ""


def build(env: DriveEnv) -> tuple[Tree, dict[str, dict[str, str]]]:
    """Two users and a tree of files (one spanning three chunks)."""
    admin = env.register("admin")
    bob = env.add_user(admin, "bob")
    who = {"admin": admin, "bob": bob}
    tree = Tree()
    for path, data, owner in (
        ("/docs/a.bin", random_bytes(150_000, 1), "admin"),
        ("/docs/deep/b.txt", b"hello deep", "admin"),
        ("/bob/c.bin", random_bytes(70_000, 2), "bob"),
        ("/gone.txt", b"bye", "admin"),
        ("/docs/old-name.txt", b"renamed later", "admin"),
    ):
        parent = path.rsplit("/", 1)[0]
        if parent:
            env.mkdir(who[owner], parent)
        tree.ids[path] = env.put(who[owner], path, data)["id"]
        tree.files[path] = (data, owner)
    tree.ids["/archive"] = env.mkdir(admin, "/archive")["id"]
    return tree, who


def change(env: DriveEnv, tree: Tree, who: dict[str, dict[str, str]]) -> None:
    """Rename, move, delete, share, link."""
    admin = who["admin"]
    c = env.client
    fid = tree.ids.pop("/docs/old-name.txt")
    r = c.patch(f"/api/drive/files/{fid}", json={"name": "new-name.txt"}, headers=admin)
    assert r.status_code == 200, r.text
    tree.ids["/docs/new-name.txt"] = fid
    tree.files["/docs/new-name.txt"] = tree.files.pop("/docs/old-name.txt")
    deep = c.get("/api/drive/resolve", params={"path": "/docs/deep"}, headers=admin).json()
    r = c.patch(
        f"/api/drive/folders/{deep['folder']['id']}",
        json={"parent_id": tree.ids["/archive"]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    tree.ids["/archive/deep/b.txt"] = tree.ids.pop("/docs/deep/b.txt")
    tree.files["/archive/deep/b.txt"] = tree.files.pop("/docs/deep/b.txt")
    r = c.delete(f"/api/drive/files/{tree.ids.pop('/gone.txt')}", headers=admin)
    assert r.status_code == 204, r.text
    del tree.files["/gone.txt"]
    tree.gone.add("/gone.txt")
    r = c.put(
        f"/api/drive/files/{tree.ids['/docs/a.bin']}/shares/bob",
        json={"access": "read"},
        headers=admin,
    )
    assert r.status_code in (200, 201), r.text
    tree.shared_with_bob.add("/docs/a.bin")
    r = c.post(f"/api/drive/files/{tree.ids['/archive/deep/b.txt']}/links", json={}, headers=admin)
    assert r.status_code in (200, 201), r.text
    tree.link = r.json()["url"]


def add_more(env: DriveEnv, tree: Tree, who: dict[str, dict[str, str]]) -> None:
    data = random_bytes(20_000, 3)
    tree.ids["/late.bin"] = env.put(who["bob"], "/late.bin", data)["id"]
    tree.files["/late.bin"] = (data, "bob")


def check(env: DriveEnv, tree: Tree) -> None:
    """Every file reads back byte-identical at its path with its owner; shares hold."""
    admin, bob = env.login("admin"), env.login("bob")
    who = {"admin": admin, "bob": bob}
    users = {u["name"]: u["id"] for u in _users(env, admin)}
    for path, (data, owner) in tree.files.items():
        r = env.client.get("/api/drive/resolve", params={"path": path}, headers=admin)
        assert r.status_code == 200, (path, r.text)
        found = r.json()["file"]
        assert found["id"] == tree.ids[path]
        assert found["owner_id"] == users[owner], path
        assert env.get(who[owner], found["id"]) == data, path
    for path in tree.gone:
        r = env.client.get("/api/drive/resolve", params={"path": path}, headers=admin)
        assert r.status_code == 404, path
    for path, (data, owner) in tree.files.items():
        if owner == "bob":
            continue
        r = env.client.get(f"/api/drive/files/{tree.ids[path]}/content", headers=bob)
        if path in tree.shared_with_bob:
            assert r.status_code == 200, path
            assert r.content == data, path
        else:
            assert r.status_code in (403, 404), path
    if tree.link:
        link_path = "/" + tree.link.split("://", 1)[1].split("/", 1)[1]
        r = env.client.get(link_path)
        assert r.status_code == 200, r.text
        assert r.content == tree.files["/archive/deep/b.txt"][0]


def _users(env: DriveEnv, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = env.client.get("/api/auth/users", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body["users"] if isinstance(body, dict) else body)


def lose_database(db_url: str) -> None:
    """Delete the SQLite file, or empty the PostgreSQL database."""
    if db_url.startswith("sqlite"):
        path = Path(db_url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.unlink(f"{path}{suffix}")
        return
    engine = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def recover_env(db_url: str, data_dir: Path) -> dict[str, str]:
    """The environment `cordvault drive recover` needs at the least: the database, DATA_DIR
    and the keys of :data:`KEYS`."""
    return {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(data_dir),
        "MESSAGE_ENCRYPTION_KEY": MASTER,
        "DRIVE_SECRET_KEY": SECRET,
    }


def recover_cli(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> None:
    """Run `cordvault drive recover ARGS` in this process with ``env`` set; it must exit 0."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        main(["drive", "recover", *args])
    assert done.value.code == 0, done
