"""Signed download links and garbage collection through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.drive.support import DriveEnv, random_bytes

from cordvault.drive import gc, signed_links
from cordvault.drive import repository as repo
from cordvault.drive.keys import signing_keys_from_secret

# The golden vector of docs/drive-api.md: change the format, and this test must change too.
GOLDEN_SECRET = "golden-drive-secret-0123456789abcdef0123456789"
GOLDEN = {
    "link_id": "0123456789abcdef0123456789abcdef",
    "file_id": "fedcba9876543210fedcba9876543210",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "content_version": 1,
    "expires_at": datetime(2030, 1, 1, tzinfo=UTC),
}
GOLDEN_TOKEN = "v1.0123456789abcdef0123456789abcdef.gLL7LpgH3haOPs7xhLdcV4z1Qrx5MW7eMQvPxwudBHk"


def test_link_token_golden_vector() -> None:
    keys = signing_keys_from_secret(GOLDEN_SECRET)
    assert signed_links.sign(keys.link_key, **GOLDEN) == GOLDEN_TOKEN  # type: ignore[arg-type]
    other = {**GOLDEN, "content_version": 2}
    assert signed_links.sign(keys.link_key, **other) != GOLDEN_TOKEN  # type: ignore[arg-type]


def _link(env: DriveEnv, h: dict[str, str], fid: str, **body: object) -> dict:
    r = env.client.post(f"/api/drive/files/{fid}/links", json=body, headers=h)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _open(env: DriveEnv, url: str, **headers: str):  # type: ignore[no-untyped-def]
    return env.client.get(url.replace("http://testserver", ""), headers=headers)


def test_links_work_without_an_account_with_ranges(env: DriveEnv) -> None:
    h = env.register()
    data = random_bytes(100_000)
    f = env.put(h, "/clip.bin", data)
    link = _link(env, h, f["id"])
    assert link["url"] == f"http://testserver/api/drive/dl/{link['token']}"
    r = _open(env, link["url"])
    assert (r.status_code, r.content) == (200, data)
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["x-content-type-options"] == "nosniff"
    part = _open(env, link["url"], range="bytes=70000-70009")
    assert (part.status_code, part.content) == (206, data[70000:70010])
    assert env.client.head(f"/api/drive/dl/{link['token']}").status_code == 200


def test_forged_revoked_expired_and_stale_links_are_refused(
    env: DriveEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = env.register()
    f = env.put(h, "/a.txt", b"one")
    link = _link(env, h, f["id"])
    token = link["token"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (forged, "v1.abc", "v2." + token[3:], "nonsense", token + "x"):
        r = env.client.get(f"/api/drive/dl/{bad}")
        assert r.status_code == 400, bad
        assert r.json()["errorMessageCode"] == "INVALID_LINK"
        assert token not in r.text
    # Expiry: valid now, refused once the clock passes it.
    timed = _link(env, h, f["id"], expires_in=60)
    assert _open(env, timed["url"]).status_code == 200
    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr(signed_links, "utcnow", lambda: later)
    expired = _open(env, timed["url"])
    assert expired.status_code == 400
    assert expired.json()["errorMessageCode"] == "EXPIRED_LINK"
    monkeypatch.undo()
    # Revocation of one link, then of all.
    assert env.client.delete(f"/api/drive/links/{timed['id']}", headers=h).status_code == 204
    assert _open(env, timed["url"]).json()["errorMessageCode"] == "INVALID_LINK"
    assert _open(env, link["url"]).status_code == 200
    listed = env.client.get(f"/api/drive/files/{f['id']}/links", headers=h).json()
    assert [x["id"] for x in listed] == [link["id"]]
    assert env.client.delete(f"/api/drive/files/{f['id']}/links", headers=h).json() == {
        "revoked": 1
    }
    assert _open(env, link["url"]).status_code == 400
    # New content invalidates links; deleting the file too.
    fresh = _link(env, h, f["id"])
    env.put(h, "/a.txt", b"two", on_conflict="overwrite")
    assert _open(env, fresh["url"]).status_code == 400
    fresh = _link(env, h, f["id"])
    assert _open(env, fresh["url"]).content == b"two"
    assert env.client.delete(f"/api/drive/files/{f['id']}", headers=h).status_code == 204
    assert _open(env, fresh["url"]).status_code == 400
    assert env.client.post("/api/drive/files/x/links", json={}, headers=h).status_code == 404
    assert (
        env.client.post(
            f"/api/drive/files/{f['id']}/links", json={"expires_in": 0}, headers=h
        ).status_code
        == 400
    )


def _status(env: DriveEnv, link: dict) -> tuple[int, str | None]:
    r = _open(env, link["url"])
    return r.status_code, (r.json()["errorMessageCode"] if r.status_code != 200 else None)


DEAD = (400, "INVALID_LINK")
LIVE = (200, None)


def test_a_link_dies_with_its_creators_access(env: DriveEnv) -> None:
    """A link carries its creator's authority: unshare, a disabled account or a transfer of the
    file away silence it (as a revoked link); giving the access back revives it."""
    alice = env.register("alice")
    bob = env.add_user(alice, "bob")
    carol = env.add_user(alice, "carol")
    c = env.client
    f = env.put(alice, "/doc.bin", b"secret report")
    fid = f["id"]

    def share(user: str, level: str = "read") -> None:
        r = c.put(f"/api/drive/files/{fid}/shares/{user}", json={"access": level}, headers=alice)
        assert r.status_code == 200, r.text

    share("bob")
    own, bobs = _link(env, alice, fid), _link(env, bob, fid)
    assert _status(env, own) == _status(env, bobs) == LIVE
    listed = c.get(f"/api/drive/files/{fid}/links", headers=alice).json()
    assert {x["id"] for x in listed} == {own["id"], bobs["id"]}

    # 1. Unshare: bob's link dies like a revoked one, alice's keeps working.
    assert c.delete(f"/api/drive/files/{fid}/shares/bob", headers=alice).status_code == 204
    assert _status(env, bobs) == DEAD
    assert _open(env, bobs["url"]).json()["message"] == "this download link was revoked"
    assert env.client.head(f"/api/drive/dl/{bobs['token']}").status_code == 400
    assert _status(env, own) == LIVE
    listed = c.get(f"/api/drive/files/{fid}/links", headers=alice).json()
    assert [x["id"] for x in listed] == [own["id"]]
    share("bob", "write")  # access given back: the link works again
    assert _status(env, bobs) == LIVE

    # 2. A disabled account's links die (the owner's too); enabling revives them.
    bob_id = c.get("/api/auth/me", headers=bob).json()["id"]
    r = c.patch(f"/api/auth/users/{bob_id}", json={"disabled": True}, headers=alice)
    assert r.status_code == 200, r.text
    assert _status(env, bobs) == DEAD
    assert _status(env, own) == LIVE
    c.patch(f"/api/auth/users/{bob_id}", json={"disabled": False}, headers=alice)
    assert _status(env, bobs) == LIVE

    # 3. Ownership transfer: the old owner keeps no access, so their link dies; the sharee's
    # link lives on (the share stays), the new owner's works.
    r = c.post(f"/api/drive/files/{fid}/owner", json={"user": "carol"}, headers=alice)
    assert r.status_code == 200, r.text
    assert _status(env, own) == DEAD
    assert _status(env, bobs) == LIVE
    carols = _link(env, carol, fid)
    assert _open(env, carols["url"]).content == b"secret report"
    listed = c.get(f"/api/drive/files/{fid}/links", headers=carol).json()
    assert {x["id"] for x in listed} == {bobs["id"], carols["id"]}
    # Published, the file is readable by every account: alice's link opens it again.
    r = c.patch(f"/api/drive/files/{fid}", json={"public": True}, headers=carol)
    assert r.status_code == 200, r.text
    assert _status(env, own) == LIVE


def test_deleted_and_replaced_content_is_garbage_collected(make_env: object) -> None:
    # Without trash and versions (tests/drive/test_trash_versions.py covers those).
    env = make_env(drive_trash_retention_days=0, drive_file_versions_kept=0)  # type: ignore[operator]
    h = env.register()
    f = env.put(h, "/x.bin", random_bytes(150_000))  # 3 chunks
    env.put(h, "/x.bin", random_bytes(10), on_conflict="overwrite")  # old 3 chunks -> garbage
    env.store.reset()
    assert gc.collect(env.drive).deleted == 3
    assert env.store.counters.deletes == 3
    assert env.get(h, f["id"]) == random_bytes(10)
    env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    assert gc.collect(env.drive).deleted == 1
    objects = env.settings.data_dir / "chunks" / "objects"
    assert [p for p in objects.rglob("*") if p.is_file()] == []
    with env.drive.sessions() as db:
        assert repo.pending_garbage(db) == 0


def test_abandoned_uploads_expire_and_are_collected(
    env: DriveEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = env.register()
    body = {"name": "never.bin", "size": 10, "sha256": "0" * 64}
    up = env.client.post("/api/drive/uploads", json=body, headers=h).json()
    env.client.put(f"/api/drive/uploads/{up['id']}/chunks/0", content=b"0123456789", headers=h)
    assert gc.collect(env.drive).expired_uploads == 0
    later = datetime.now(UTC) + timedelta(seconds=env.settings.drive_upload_ttl_seconds + 5)
    monkeypatch.setattr(gc, "utcnow", lambda: later)
    report = gc.collect(env.drive)
    assert (report.expired_uploads, report.deleted) == (1, 1)
    status = env.client.get(f"/api/drive/uploads/{up['id']}", headers=h).json()
    assert status["state"] == "aborted"


def test_gc_grace_keeps_chunks_for_running_downloads(make_env: object) -> None:
    env = make_env(drive_gc_grace_seconds=600, drive_trash_retention_days=0)  # type: ignore[operator]
    h = env.register()
    f = env.put(h, "/y.bin", b"abc")
    env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    assert gc.collect(env.drive).deleted == 0
    with env.drive.sessions() as db:
        assert repo.pending_garbage(db) == 1


def test_the_api_collects_garbage_in_the_background(make_env: object) -> None:
    import time

    env = make_env(drive_gc_interval_seconds=0.05, drive_trash_retention_days=0)  # type: ignore[operator]
    h = env.register()
    f = env.put(h, "/z.bin", random_bytes(100_000))
    objects = env.settings.data_dir / "chunks" / "objects"
    assert len([p for p in objects.rglob("*") if p.is_file()]) == 2
    env.client.delete(f"/api/drive/files/{f['id']}", headers=h)
    deadline = time.monotonic() + 30
    while [p for p in objects.rglob("*") if p.is_file()]:
        assert time.monotonic() < deadline, "the background collector never ran"
        time.sleep(0.05)
