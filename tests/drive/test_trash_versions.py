"""Trash (delete, restore, purge, retention) and file versions, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from tests.drive.support import DriveEnv, random_bytes

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import gc
from cordvault.drive import repository as repo
from cordvault.drive.models import FileVersion, TrashEntry, utcnow


def _trash(env: DriveEnv, h: dict[str, str]) -> list[dict[str, Any]]:
    r = env.client.get("/api/drive/trash", headers=h)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _age(env: DriveEnv, table: Any, column: Any, days: int) -> None:
    with env.drive.sessions() as db, db.begin():
        db.execute(update(table).values({column: utcnow() - timedelta(days=days)}))


def test_delete_restore_and_links_of_trashed_files(env: DriveEnv) -> None:
    h = env.register()
    env.mkdir(h, "/docs")
    f = env.put(h, "/docs/a.txt", b"hello")
    link = env.client.post(f"/api/drive/files/{f['id']}/links", json={}, headers=h).json()
    assert env.client.delete(f"/api/drive/files/{f['id']}", headers=h).status_code == 204
    # Gone from the tree, its link dead, its name free; still counted in the quota.
    assert env.client.get(f"/api/drive/files/{f['id']}", headers=h).status_code == 404
    assert env.client.get(f"/api/drive/dl/{link['token']}").status_code == 400
    assert env.client.get("/api/drive/quota", headers=h).json()["trash"] == 5
    [entry] = _trash(env, h)
    assert (entry["kind"], entry["name"], entry["path"]) == ("file", "a.txt", "/docs/a.txt")
    env.put(h, "/docs/a.txt", b"newer")
    # Restoring onto the taken name asks (NAME_CONFLICT), then follows the chosen policy.
    r = env.client.post(f"/api/drive/trash/{entry['id']}/restore", json={}, headers=h)
    assert r.status_code == 409
    assert r.json()["errorMessageCode"] == "NAME_CONFLICT"
    r = env.client.post(
        f"/api/drive/trash/{entry['id']}/restore", json={"on_conflict": "rename"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "a (1).txt"
    assert env.get(h, f["id"]) == b"hello"
    assert env.client.get(f"/api/drive/dl/{link['token']}").content == b"hello"  # alive again
    assert _trash(env, h) == []
    # Restoring twice (or after a purge) is a clear NOT_FOUND.
    r = env.client.post(f"/api/drive/trash/{entry['id']}/restore", json={}, headers=h)
    assert r.status_code == 404


def test_folder_restore_recreates_a_deleted_parent(env: DriveEnv) -> None:
    h = env.register()
    env.mkdir(h, "/p/q/r")
    env.put(h, "/p/q/r/deep.bin", random_bytes(70_000))
    q = env.client.get("/api/drive/resolve", params={"path": "/p/q"}, headers=h).json()["folder"]
    p = env.client.get("/api/drive/resolve", params={"path": "/p"}, headers=h).json()["folder"]
    assert env.client.delete(f"/api/drive/folders/{q['id']}", headers=h).json() == {
        "deleted_files": 1
    }
    assert env.client.delete(f"/api/drive/folders/{p['id']}", headers=h).status_code == 200
    entries = {e["path"]: e for e in _trash(env, h)}
    assert set(entries) == {"/p/q", "/p"}
    # Purge /p for good; restoring /p/q recreates /p (a new folder) and puts q back.
    r = env.client.delete(f"/api/drive/trash/{entries['/p']['id']}", headers=h)
    assert r.json() == {"purged_files": 0}
    r = env.client.post(f"/api/drive/trash/{entries['/p/q']['id']}/restore", json={}, headers=h)
    assert r.status_code == 200, r.text
    found = env.client.get(
        "/api/drive/resolve", params={"path": "/p/q/r/deep.bin"}, headers=h
    ).json()
    assert env.get(h, found["file"]["id"]) == random_bytes(70_000)


def test_retention_purges_and_empty_trash(make_env: Callable[..., DriveEnv]) -> None:
    env = make_env(drive_trash_retention_days=7)
    h = env.register()
    a = env.put(h, "/a.bin", random_bytes(100_000))  # 2 chunks
    b = env.put(h, "/b.bin", b"b")
    for f in (a, b):
        env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    assert gc.collect(env.drive).purged_trash == 0  # not old enough
    with env.drive.sessions() as db, db.begin():
        db.execute(
            update(TrashEntry)
            .where(TrashEntry.item_id == a["id"])
            .values(trashed_at=utcnow() - timedelta(days=8))
        )
    report = gc.collect(env.drive)
    assert (report.purged_trash, report.deleted) == (1, 2)
    assert [e["name"] for e in _trash(env, h)] == ["b.bin"]
    assert env.client.delete("/api/drive/trash", headers=h).json() == {"purged": 1}
    assert gc.collect(env.drive).deleted == 1
    assert env.client.get("/api/drive/quota", headers=h).json()["used"] == 0


def test_restore_racing_a_purge_loses_nothing(env: DriveEnv) -> None:
    """Both lock the entry: whichever runs second finds it gone and says so."""
    from cordvault.drive import trash
    from cordvault.drive.auth import Actor

    h = env.register()
    f = env.put(h, "/r.bin", b"race")
    env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    [entry] = _trash(env, h)
    me = env.client.get("/api/auth/me", headers=h).json()
    actor = Actor(id=me["id"], name=me["name"], is_admin=True)
    with env.drive.sessions() as db, db.begin():
        trash.restore(env.drive, db, actor, entry["id"])
    with env.drive.sessions() as db, db.begin(), pytest.raises(CordvaultError) as caught:
        trash.purge(env.drive, db, actor, entry["id"])
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert env.get(h, f["id"]) == b"race"


def test_versions_keep_list_download_restore_and_prune(make_env: Callable[..., DriveEnv]) -> None:
    env = make_env(drive_file_versions_kept=2)
    h = env.register()
    f = env.put(h, "/v.txt", b"one")
    env.store.reset()
    for text in (b"two", b"three", b"four"):
        env.put(h, "/v.txt", text, on_conflict="overwrite")
    puts_for_three_overwrites = env.store.counters.puts
    assert puts_for_three_overwrites == 3  # one chunk each: the kept versions are not re-stored
    versions = env.client.get(f"/api/drive/files/{f['id']}/versions", headers=h).json()
    assert [v["content_version"] for v in versions] == [3, 2]  # "one" pruned beyond 2
    old = env.client.get(
        f"/api/drive/files/{f['id']}/versions/{versions[1]['id']}/content", headers=h
    )
    assert old.content == b"two"
    r = env.client.post(
        f"/api/drive/files/{f['id']}/versions/{versions[1]['id']}/restore", headers=h
    )
    assert r.status_code == 200
    assert r.json()["content_version"] == 5
    assert env.get(h, f["id"]) == b"two"
    now = env.client.get(f"/api/drive/files/{f['id']}/versions", headers=h).json()
    assert [v["content_version"] for v in now] == [4, 3]  # "four" kept, "three" kept
    quota = env.client.get("/api/drive/quota", headers=h).json()
    assert (quota["files"], quota["versions"]) == (3, 4 + 5)
    # Old versions are purged by age, and with their file.
    _age(env, FileVersion, FileVersion.replaced_at, 31)
    assert gc.collect(env.drive).purged_versions == 2
    env.put(h, "/v.txt", b"five", on_conflict="overwrite")
    env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    [entry] = _trash(env, h)
    env.client.delete(f"/api/drive/trash/{entry['id']}", headers=h)
    with env.drive.sessions() as db:
        assert repo.versions_of(db, f["id"]) == []


def test_version_access_follows_the_file(env: DriveEnv) -> None:
    admin = env.register()
    owner = env.add_user(admin, "olga")
    other = env.add_user(admin, "oscar")
    f = env.put(owner, "/olga-v.txt", b"secret one")
    env.put(owner, "/olga-v.txt", b"secret two", on_conflict="overwrite")
    url = f"/api/drive/files/{f['id']}/versions"
    assert env.client.get(url, headers=other).status_code == 403
    [v] = env.client.get(url, headers=owner).json()
    assert env.client.get(f"{url}/{v['id']}/content", headers=other).status_code == 403
    assert env.client.post(f"{url}/{v['id']}/restore", headers=other).status_code == 403
    assert env.client.delete(f"{url}/{v['id']}", headers=other).status_code == 403
    assert env.client.delete(f"{url}/{v['id']}", headers=owner).status_code == 204
