"""Uploads through the HTTP API: resumable sessions, streaming, bad input, overwrite policy."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.drive.conftest import CHUNK
from tests.drive.support import DriveEnv, random_bytes, sha


def _start(env: DriveEnv, h: dict[str, str], data: bytes, name: str = "f.bin", **kw: Any) -> dict:
    body = {"name": name, "size": len(data), "sha256": sha(data), **kw}
    r = env.client.post("/api/drive/uploads", json=body, headers=h)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _chunk(data: bytes, i: int) -> bytes:
    return data[i * CHUNK : (i + 1) * CHUNK]


def _send(
    env: DriveEnv, h: dict[str, str], up: dict, i: int, payload: bytes, **headers: str
) -> Any:
    return env.client.put(
        f"/api/drive/uploads/{up['id']}/chunks/{i}", content=payload, headers={**h, **headers}
    )


def _names(env: DriveEnv, h: dict[str, str]) -> list[str]:
    r = env.client.get("/api/drive/folders/root", headers=h)
    return [i["name"] for i in r.json()["items"]]


def test_resumable_upload_out_of_order_concurrent_with_retries(env: DriveEnv) -> None:
    h = env.register()
    data = random_bytes(5 * CHUNK + 123)
    up = _start(env, h, data)
    assert (up["chunk_size"], up["chunk_count"], up["received"]) == (CHUNK, 6, [])
    order = [5, 2, 0, 4, 1, 3]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _send(env, h, up, i, _chunk(data, i)), order))
    assert [r.status_code for r in results] == [200] * 6
    assert all(r.json()["stored"] for r in results)
    # A retry of a chunk already stored is a no-op.
    again = _send(env, h, up, 2, _chunk(data, 2))
    assert again.json() == {"index": 2, "stored": False}
    # Not visible until completed: no half files, ever.
    assert "f.bin" not in _names(env, h)
    done = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert done.status_code == 200, done.text
    f = done.json()["file"]
    assert (f["name"], f["size"], f["sha256"]) == ("f.bin", len(data), sha(data))
    assert env.get(h, f["id"]) == data
    twice = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert twice.status_code == 409
    assert twice.json()["details"]["file_id"] == f["id"]
    late = _send(env, h, up, 0, _chunk(data, 0))
    assert late.status_code == 409


def test_upload_resumes_after_a_server_restart(make_env: Callable[..., DriveEnv]) -> None:
    first = make_env()
    h = first.register()
    data = random_bytes(3 * CHUNK)
    up = _start(first, h, data)
    assert _send(first, h, up, 0, _chunk(data, 0)).status_code == 200
    assert _send(first, h, up, 2, _chunk(data, 2)).status_code == 200
    second = make_env()  # another process on the same DB and store
    status = second.client.get(f"/api/drive/uploads/{up['id']}", headers=h).json()
    assert status["received"] == [0, 2]
    assert _send(second, h, up, 1, _chunk(data, 1)).status_code == 200
    done = second.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert done.status_code == 200
    assert first.get(h, done.json()["file"]["id"]) == data


def test_bad_chunks_and_incomplete_uploads_are_refused(env: DriveEnv) -> None:
    h = env.register()
    data = random_bytes(2 * CHUNK + 10)
    up = _start(env, h, data)
    short = _send(env, h, up, 0, _chunk(data, 0)[:-1])
    assert short.status_code == 400
    assert short.json()["details"] == {"expected": CHUNK, "received": CHUNK - 1}
    long_last = _send(env, h, up, 2, _chunk(data, 2) + b"x")
    assert long_last.status_code == 400
    assert _send(env, h, up, 3, b"x" * 10).status_code == 400
    assert _send(env, h, up, -1, b"x").status_code == 400
    huge = _send(env, h, up, 0, b"x" * (CHUNK + 1))
    assert huge.status_code == 413
    bad_sum = _send(env, h, up, 0, _chunk(data, 0), **{"x-chunk-sha256": "0" * 64})
    assert bad_sum.json()["errorMessageCode"] == "CHECKSUM_MISMATCH"
    ok = _send(env, h, up, 0, _chunk(data, 0), **{"x-chunk-sha256": sha(_chunk(data, 0))})
    assert ok.status_code == 200
    missing = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert missing.status_code == 409
    assert missing.json()["errorMessageCode"] == "UPLOAD_INCOMPLETE"
    assert missing.json()["details"]["missing"] == [1, 2]
    other = env.add_user(h, "mallory")
    assert _send(env, other, up, 1, _chunk(data, 1)).status_code == 404
    assert env.client.get(f"/api/drive/uploads/{up['id']}", headers=other).status_code == 404
    assert (
        env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=other).status_code == 404
    )
    for bad in (
        {"name": "a", "size": -1, "sha256": sha(b"")},
        {"name": "a", "size": 1, "sha256": "nothex"},
        {"name": "..", "size": 1, "sha256": sha(b"")},
        {"name": "a", "size": 1, "sha256": sha(b""), "folder_id": "missing"},
        {"name": "a", "size": 1, "sha256": sha(b""), "extra": 1},
    ):
        r = env.client.post("/api/drive/uploads", json=bad, headers=h)
        assert r.status_code in (400, 404), bad
    assert env.client.post("/api/drive/uploads/nope/complete", headers=h).status_code == 404


def test_wrong_declared_sha256_fails_and_replacing_a_chunk_fixes_it(env: DriveEnv) -> None:
    h = env.register()
    data = random_bytes(2 * CHUNK)
    up = _start(env, h, data)
    wrong = bytes(CHUNK)
    assert _send(env, h, up, 0, wrong).status_code == 200
    assert _send(env, h, up, 1, _chunk(data, 1)).status_code == 200
    r = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 422
    assert r.json()["errorMessageCode"] == "CHECKSUM_MISMATCH"
    assert _names(env, h) == []
    # Re-sending different bytes for the index replaces the chunk (the old one is collected).
    assert _send(env, h, up, 0, _chunk(data, 0)).json()["stored"] is True
    r = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 200
    assert env.get(h, r.json()["file"]["id"]) == data


def test_sha256_can_be_declared_at_completion_and_is_still_verified(env: DriveEnv) -> None:
    """A client that hashes while it sends opens without a digest and gives it to complete."""
    h = env.register()
    data = random_bytes(2 * CHUNK + 7)
    body = {"name": "late.bin", "size": len(data)}
    up = env.client.post("/api/drive/uploads", json=body, headers=h).json()
    for i in range(up["chunk_count"]):
        assert _send(env, h, up, i, _chunk(data, i)).status_code == 200
    url = f"/api/drive/uploads/{up['id']}/complete"
    r = env.client.post(url, headers=h)  # no digest anywhere: refused, nothing made
    assert (r.status_code, r.json()["errorMessageCode"]) == (400, "INVALID_INPUT")
    r = env.client.post(url, json={"sha256": "zz"}, headers=h)
    assert (r.status_code, r.json()["errorMessageCode"]) == (400, "INVALID_INPUT")
    r = env.client.post(url, json={"sha256": sha(data[:-1])}, headers=h)
    assert (r.status_code, r.json()["errorMessageCode"]) == (422, "CHECKSUM_MISMATCH")
    assert _names(env, h) == []
    r = env.client.post(url, json={"sha256": sha(data).upper()}, headers=h)
    assert r.status_code == 200, r.text
    f = r.json()["file"]
    assert (f["name"], f["sha256"]) == ("late.bin", sha(data))
    assert env.get(h, f["id"]) == data
    # Declared at both steps: they must agree; the same digest again is fine.
    other = random_bytes(5)
    up2 = _start(env, h, other, name="both.bin")
    assert _send(env, h, up2, 0, other).status_code == 200
    url2 = f"/api/drive/uploads/{up2['id']}/complete"
    r = env.client.post(url2, json={"sha256": sha(data)}, headers=h)
    assert (r.status_code, r.json()["errorMessageCode"]) == (422, "CHECKSUM_MISMATCH")
    r = env.client.post(url2, json={"sha256": sha(other)}, headers=h)
    assert r.status_code == 200, r.text


def test_abort_and_empty_file(env: DriveEnv) -> None:
    h = env.register()
    up = _start(env, h, b"", name="empty.txt")
    assert up["chunk_count"] == 1
    assert _send(env, h, up, 0, b"").status_code == 200
    f = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h).json()["file"]
    assert f["size"] == 0
    assert env.get(h, f["id"]) == b""
    up2 = _start(env, h, b"abc", name="gone.txt")
    assert _send(env, h, up2, 0, b"abc").status_code == 200
    assert env.client.delete(f"/api/drive/uploads/{up2['id']}", headers=h).status_code == 204
    assert env.client.post(f"/api/drive/uploads/{up2['id']}/complete", headers=h).status_code == 409
    assert "gone.txt" not in _names(env, h)


def test_streaming_upload_checks_sha256_and_cleans_up(env: DriveEnv) -> None:
    h = env.register()
    data = random_bytes(3 * CHUNK + 7)
    r = env.client.put(
        "/api/drive/upload",
        params={"path": "/s.bin"},
        content=data,
        headers={**h, "x-content-sha256": sha(data)},
    )
    assert r.status_code == 201
    assert r.json()["file"]["sha256"] == sha(data)
    env.store.reset()
    bad = env.client.put(
        "/api/drive/upload",
        params={"path": "/t.bin"},
        content=data,
        headers={**h, "x-content-sha256": "0" * 64},
    )
    assert bad.status_code == 422
    assert "t.bin" not in _names(env, h)
    from cordvault.drive import gc

    report = gc.collect(env.drive)
    assert report.deleted == env.store.counters.puts == 4  # every stored chunk collected
    nowhere = env.client.put(
        "/api/drive/upload", params={"path": "/no/such/dir/x"}, content=b"x", headers=h
    )
    assert nowhere.status_code == 404
    root_only = env.client.put("/api/drive/upload", params={"path": "/"}, content=b"x", headers=h)
    assert root_only.status_code == 400
    anon = env.client.put("/api/drive/upload", params={"path": "/a"}, content=b"x")
    assert anon.status_code == 401


def test_overwrite_policies_on_upload(env: DriveEnv) -> None:
    h = env.register()
    first = env.put(h, "/doc.txt", b"one")
    clash = env.client.put(
        "/api/drive/upload", params={"path": "/doc.txt"}, content=b"two", headers=h
    )
    assert clash.status_code == 409
    skip = env.client.put(
        "/api/drive/upload",
        params={"path": "/doc.txt", "on_conflict": "skip"},
        content=b"two",
        headers=h,
    )
    assert skip.json()["skipped"] is True
    assert env.get(h, first["id"]) == b"one"
    renamed = env.put(h, "/doc.txt", b"three", on_conflict="rename")
    assert renamed["name"] == "doc (1).txt"
    over = env.client.put(
        "/api/drive/upload",
        params={"path": "/doc.txt", "on_conflict": "overwrite"},
        content=b"four",
        headers=h,
    ).json()
    assert over["overwritten"] is True
    assert over["file"]["id"] == first["id"]  # same file, new content
    assert over["file"]["content_version"] == 2
    assert env.get(h, first["id"]) == b"four"
    env.mkdir(h, "/dir")
    onto_folder = env.client.put(
        "/api/drive/upload",
        params={"path": "/dir", "on_conflict": "overwrite"},
        content=b"x",
        headers=h,
    )
    assert onto_folder.status_code == 409
    assert sorted(_names(env, h)) == ["dir", "doc (1).txt", "doc.txt"]


def test_racing_retries_of_one_chunk_leave_one_chunk_and_no_orphans(env: DriveEnv) -> None:
    from cordvault.drive import gc

    h = env.register()
    data = random_bytes(2 * CHUNK)
    up = _start(env, h, data)
    first = _chunk(data, 0)
    # Different bytes each time, so every attempt really stores (no same-bytes shortcut).
    payloads = [bytes([n]) + first[1:] for n in range(6)] + [first]
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda p: _send(env, h, up, 0, p).status_code, payloads))
    assert codes == [200] * 7
    # Whichever attempt won, sending the right bytes once more settles the chunk.
    assert _send(env, h, up, 0, first).status_code == 200
    assert _send(env, h, up, 1, _chunk(data, 1)).status_code == 200
    done = env.client.post(f"/api/drive/uploads/{up['id']}/complete", headers=h)
    assert done.status_code == 200, done.text
    gc.collect(env.drive)
    objects = env.settings.data_dir / "chunks" / "objects"
    assert len([p for p in objects.rglob("*") if p.is_file()]) == 2  # exactly the file's chunks
    assert env.get(h, done.json()["file"]["id"]) == data
