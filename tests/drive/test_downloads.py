"""Downloads through the HTTP API: streaming, Range semantics, headers, tampering, zip."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from tests.drive.conftest import CHUNK
from tests.drive.support import DriveEnv, random_bytes

from cordvault.crypto import SEGMENT_OVERHEAD, SEGMENT_SIZE
from cordvault.drive import repository as repo

SIZE = 3 * CHUNK + 5000


@pytest.fixture
def stored(env: DriveEnv) -> tuple[DriveEnv, dict[str, str], dict, bytes]:
    h = env.register()
    data = random_bytes(SIZE, seed=9)
    return env, h, env.put(h, "/movie.mp4", data), data


def _content(env: DriveEnv, h: dict[str, str], fid: str, **headers: str):  # type: ignore[no-untyped-def]
    return env.client.get(f"/api/drive/files/{fid}/content", headers={**h, **headers})


def test_full_and_single_ranges(stored: tuple[DriveEnv, dict[str, str], dict, bytes]) -> None:
    env, h, f, data = stored
    full = _content(env, h, f["id"])
    assert full.status_code == 200
    assert full.content == data
    assert full.headers["content-length"] == str(SIZE)
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "video/mp4"
    cases = {
        "bytes=0-0": (0, 1),
        f"bytes={CHUNK - 10}-{CHUNK + 9}": (CHUNK - 10, CHUNK + 10),  # across a chunk boundary
        f"bytes={2 * CHUNK + 1}-": (2 * CHUNK + 1, SIZE),  # starts after the first chunk
        "bytes=-100": (SIZE - 100, SIZE),
        f"bytes=-{SIZE * 2}": (0, SIZE),
        f"bytes={SIZE - 1}-{SIZE + 100}": (SIZE - 1, SIZE),
    }
    for header, (start, end) in cases.items():
        r = _content(env, h, f["id"], range=header)
        assert r.status_code == 206, header
        assert r.content == data[start:end], header
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}", header


def test_multiple_ranges_head_if_range_and_416(
    stored: tuple[DriveEnv, dict[str, str], dict, bytes],
) -> None:
    env, h, f, data = stored
    r = _content(env, h, f["id"], range=f"bytes=0-9,{CHUNK}-{CHUNK + 9},-5")
    assert r.status_code == 206
    boundary = re.search(r"boundary=(\S+)", r.headers["content-type"]).group(1)  # type: ignore[union-attr]
    parts = [p for p in r.content.split(f"--{boundary}".encode()) if p.strip(b"-\r\n")]
    bodies = [p.split(b"\r\n\r\n", 1)[1][:-2] for p in parts]
    assert bodies == [data[:10], data[CHUNK : CHUNK + 10], data[-5:]]
    head = env.client.head(f"/api/drive/files/{f['id']}/content", headers=h)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(SIZE)
    etag = head.headers["etag"]
    same = _content(env, h, f["id"], range="bytes=0-3", **{"if-range": etag})
    assert (same.status_code, same.content) == (206, data[:4])
    stale = _content(env, h, f["id"], range="bytes=0-3", **{"if-range": '"old"'})
    assert (stale.status_code, len(stale.content)) == (200, SIZE)
    bad = _content(env, h, f["id"], range=f"bytes={SIZE}-")
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{SIZE}"
    assert bad.json()["errorMessageCode"] == "RANGE_NOT_SATISFIABLE"


def test_names_give_safe_content_disposition(env: DriveEnv) -> None:
    h = env.register()
    f = env.put(h, '/Résumé "final"; v2.pdf', b"%PDF")
    r = _content(env, h, f["id"])
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%3B%20v2.pdf" in cd
    assert r.headers["content-type"] == "application/pdf"
    html = env.put(h, "/page.html", b"<script>alert(1)</script>")
    inline = env.client.get(
        f"/api/drive/files/{html['id']}/content", params={"inline": 1}, headers=h
    )
    assert inline.headers["content-disposition"].startswith("attachment")  # never inline HTML
    assert inline.headers["x-content-type-options"] == "nosniff"
    # Opened in a browser anyway, a stored file runs sandboxed: no script, no loads.
    assert inline.headers["content-security-policy"] == "default-src 'none'; sandbox"
    ranged = env.client.get(
        f"/api/drive/files/{html['id']}/content", headers={**h, "range": "bytes=0-3"}
    )
    assert ranged.status_code == 206
    assert ranged.headers["content-security-policy"] == "default-src 'none'; sandbox"
    # API JSON answers are nosniff too.
    listing = env.client.get("/api/drive/folders/root", headers=h)
    assert listing.headers["x-content-type-options"] == "nosniff"


def test_small_range_at_the_end_reads_one_segment(env: DriveEnv) -> None:
    h = env.register()
    size = 8 * CHUNK + 5000  # the last 1 KiB lies inside the last (5000-byte) segment
    data = random_bytes(size, seed=4)
    f = env.put(h, "/big.bin", data)
    env.store.reset()
    r = _content(env, h, f["id"], range=f"bytes={size - 1024}-")
    assert r.status_code == 206
    assert r.content == data[-1024:]
    counters = env.store.counters
    assert counters.gets == 1
    assert counters.bytes_read == 5000 + SEGMENT_OVERHEAD  # one segment, nothing else
    # Straddling a segment boundary reads exactly the two segments it touches.
    env.store.reset()
    r = _content(env, h, f["id"], range=f"bytes={CHUNK - 512}-{CHUNK + 511}")
    assert r.content == data[CHUNK - 512 : CHUNK + 512]
    assert env.store.counters.bytes_read == 2 * (SEGMENT_SIZE + SEGMENT_OVERHEAD)


def _chunk_paths(env: DriveEnv, file_id: str) -> list[Path]:
    with env.drive.sessions() as db:
        row = repo.file(db, file_id)
        assert row is not None
        locators = [c.locator for c in repo.chunks(db, row.content_id)]
    root = env.settings.data_dir / "chunks" / "objects"
    return [root / loc[0:2] / loc[2:4] / loc for loc in locators]


def test_tampered_or_swapped_chunks_fail_loudly(
    stored: tuple[DriveEnv, dict[str, str], dict, bytes],
) -> None:
    env, h, f, data = stored
    paths = _chunk_paths(env, f["id"])
    blob = bytearray(paths[1].read_bytes())
    blob[100] ^= 0x01
    paths[1].write_bytes(bytes(blob))
    r = _content(env, h, f["id"], range=f"bytes={CHUNK}-{CHUNK + 10}")
    assert r.status_code == 500
    assert r.json()["errorMessageCode"] == "INTEGRITY_ERROR"
    # A full download starts fine (chunk 0 is intact) and is cut before any wrong byte.
    try:
        full = _content(env, h, f["id"])
        got = full.content
    except Exception:  # the transport reports the aborted response
        got = b""
    assert got != data
    assert data.startswith(got[: len(got)])
    assert len(got) < SIZE
    # Swapping two intact chunks is detected too (AAD binds the index).
    a, b = paths[0].read_bytes(), paths[2].read_bytes()
    paths[0].write_bytes(b)
    paths[2].write_bytes(a)
    r = _content(env, h, f["id"], range="bytes=0-10")
    assert r.status_code == 500
    assert r.json()["errorMessageCode"] == "INTEGRITY_ERROR"


def test_zip_of_a_tree_skips_unreadable_files(env: DriveEnv) -> None:
    alice = env.register("alice")
    bob = env.add_user(alice, "bob")
    env.mkdir(alice, "/proj/sub")
    env.put(alice, "/proj/public.txt", b"for everyone")
    env.put(alice, "/proj/sub/shared.txt", b"for bob")
    private = env.put(alice, "/proj/sub/private.txt", b"alice only")
    pub = env.client.get("/api/drive/resolve", params={"path": "/proj/public.txt"}, headers=alice)
    env.client.patch(
        f"/api/drive/files/{pub.json()['file']['id']}", json={"public": True}, headers=alice
    )
    shared = env.client.get(
        "/api/drive/resolve", params={"path": "/proj/sub/shared.txt"}, headers=alice
    ).json()["file"]["id"]
    env.client.put(f"/api/drive/files/{shared}/shares/bob", json={"access": "read"}, headers=alice)
    proj = env.client.get("/api/drive/resolve", params={"path": "/proj"}, headers=alice)
    pid = proj.json()["folder"]["id"]
    r = env.client.get(f"/api/drive/folders/{pid}/zip", headers=bob)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["x-skipped-files"] == "1"
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["x-content-type-options"] == "nosniff"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert sorted(z.namelist()) == ["public.txt", "sub/", "sub/shared.txt"]
        assert z.read("sub/shared.txt") == b"for bob"
        assert z.testzip() is None
    own = env.client.get(f"/api/drive/folders/{pid}/zip", headers=alice)
    with zipfile.ZipFile(io.BytesIO(own.content)) as z:
        assert z.read("sub/private.txt") == b"alice only"
    assert private["id"]
    assert env.client.get(f"/api/drive/folders/{pid}/zip").status_code == 401
