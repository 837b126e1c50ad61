"""Bad input that is not covered next to its feature: traversal in paths, a full disk, paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from tests.drive.conftest import CHUNK
from tests.drive.support import DriveEnv, random_bytes, sha

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import files, folders, gc, users
from cordvault.drive.auth import actor_of
from cordvault.drive.paging import MAX_OFFSET
from cordvault.storage.base import Capabilities, ChunkStore, StorageFull


class _FillingDisk:
    """The real store, until ``room`` more chunks are written: then ENOSPC (StorageFull), as
    the local backend reports a full disk."""

    def __init__(self, inner: ChunkStore, room: int) -> None:
        self.inner, self.room = inner, room

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def put(self, data: bytes) -> str:
        if self.room <= 0:
            raise StorageFull()
        self.room -= 1
        return self.inner.put(data)

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        return [self.put(c) for c in chunks]

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes:
        return self.inner.get(locator, start, end)

    def delete(self, locator: str) -> None:
        self.inner.delete(locator)

    def close(self) -> None:
        self.inner.close()


def test_traversal_and_odd_paths_are_refused(env: DriveEnv) -> None:
    h = env.register()
    env.mkdir(h, "/a")
    for path in ("/../etc/passwd", "/a/../a", "/a/./b", "/a/\x00", "/a/" + "n" * 300):
        r = env.client.get("/api/drive/resolve", params={"path": path}, headers=h)
        assert r.status_code == 400, path
        assert r.json()["errorMessageCode"] == "INVALID_NAME"
        up = env.client.put("/api/drive/upload", params={"path": path}, content=b"x", headers=h)
        assert up.status_code == 400, path
        mk = env.client.post("/api/drive/mkdir", params={"path": path}, headers=h)
        assert mk.status_code == 400, path
    # Doubled and trailing slashes are just separators.
    r = env.client.get("/api/drive/resolve", params={"path": "//a/"}, headers=h)
    assert r.json()["path"] == "/a"
    listing = env.client.get("/api/drive/folders/root", headers=h).json()
    assert [i["name"] for i in listing["items"]] == ["a"]
    # Nothing escaped into the data dir either.
    assert not (env.settings.data_dir.parent / "etc").exists()


def test_full_disk_is_a_clear_error_and_nothing_is_lost(env: DriveEnv) -> None:
    h = env.register()
    kept = env.put(h, "/kept.bin", b"still here")
    disk = _FillingDisk(env.store, room=1)
    env.drive.replace_store(disk)
    data = random_bytes(3 * CHUNK)
    r = env.client.put("/api/drive/upload", params={"path": "/big.bin"}, content=data, headers=h)
    assert r.status_code == 507
    assert r.json()["errorMessageCode"] == "STORAGE_FULL"
    names = [
        i["name"] for i in env.client.get("/api/drive/folders/root", headers=h).json()["items"]
    ]
    assert names == ["kept.bin"]
    assert env.get(h, kept["id"]) == b"still here"
    # A resumable upload survives it: the failed chunk is retried once there is room again.
    disk.room = 1
    body = {"name": "resumable.bin", "size": len(data), "sha256": sha(data)}
    up = env.client.post("/api/drive/uploads", json=body, headers=h).json()
    url = f"/api/drive/uploads/{up['id']}/chunks"
    assert env.client.put(f"{url}/0", content=data[:CHUNK], headers=h).status_code == 200
    full = env.client.put(f"{url}/1", content=data[CHUNK : 2 * CHUNK], headers=h)
    assert full.status_code == 507
    disk.room = 10
    for i in (1, 2):
        chunk = data[i * CHUNK : (i + 1) * CHUNK]
        assert env.client.put(f"{url}/{i}", content=chunk, headers=h).status_code == 200
    done = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert done.status_code == 200
    assert env.get(h, done.json()["file"]["id"]) == data
    gc.collect(env.drive)
    assert env.get(h, kept["id"]) == b"still here"


PAGED_ROUTES = ("/api/auth/users", "/api/drive/folders/root", "/api/drive/shared")


def test_paging_parameters_are_bounded(env: DriveEnv) -> None:
    """An absurd offset or limit is 400 INVALID_INPUT on every paged route, never a 500 from
    an integer the database cannot hold; the largest allowed offset is an empty page."""
    h = env.register()
    env.mkdir(h, "/dir")
    for route in PAGED_ROUTES:
        for params in (
            {"offset": 10**30},
            {"offset": 2**63},
            {"offset": MAX_OFFSET + 1},
            {"offset": -1},
            {"offset": -(10**30)},
            {"limit": 10**30},
            {"limit": 2**63},
            {"limit": -1},
            {"limit": 0},
            {"limit": -(10**30)},
        ):
            r = env.client.get(route, params=params, headers=h)
            assert r.status_code == 400, (route, params, r.text)
            assert r.json()["errorMessageCode"] == "INVALID_INPUT"
        r = env.client.get(route, params={"offset": MAX_OFFSET}, headers=h)
        assert r.status_code == 200, (route, r.text)
        body = r.json()
        assert (body["items"] if isinstance(body, dict) else body) == []


def test_absurd_user_ids_are_not_found(env: DriveEnv) -> None:
    h = env.register()
    for user_id in (10**30, 2**63, 2**31, 0, -1):
        r = env.client.patch(f"/api/auth/users/{user_id}", json={"disabled": True}, headers=h)
        assert r.status_code == 404, (user_id, r.text)
        assert r.json()["errorMessageCode"] == "NOT_FOUND"


def test_services_refuse_absurd_paging_too(env: DriveEnv) -> None:
    """The services check the same bounds (the CLI and other callers do not pass the routes)."""
    env.register()
    with env.drive.sessions() as db:
        actor = actor_of(users.get_user_by_name(db, "admin"))
        calls: tuple[Callable[[int, int], object], ...] = (
            lambda limit, offset: users.search_users(db, None, limit=limit, offset=offset),
            lambda limit, offset: files.shared_with(db, actor, limit, offset),
            lambda limit, offset: folders.list_children(
                db, actor, "root", limit=limit, offset=offset
            ),
        )
        for call in calls:
            for limit, offset in ((10, 10**30), (10**30, 0), (10, -1), (0, 0)):
                with pytest.raises(CordvaultError) as err:
                    call(limit, offset)
                assert err.value.code is ErrorCode.INVALID_INPUT
        assert users.search_users(db, None, limit=10, offset=MAX_OFFSET) == []
        assert files.shared_with(db, actor, 10, MAX_OFFSET) == []
        page = folders.list_children(db, actor, "root", limit=10, offset=MAX_OFFSET)
        assert (page.folders, page.files, page.total_folders) == ([], [], 0)
