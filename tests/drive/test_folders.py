"""Folders and names through the HTTP API: create, list, rename, move, delete, merge, usage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.drive.support import DriveEnv, random_bytes

LONG = "x" * 1000


def _ls(env: DriveEnv, h: dict[str, str], folder_id: str = "root", **params: object) -> dict:
    r = env.client.get(f"/api/drive/folders/{folder_id}", params=params, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def _names(listing: dict) -> list[str]:
    return [item["name"] for item in listing["items"]]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("..", "reserved"),
        (".", "reserved"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("nul\x00byte", "control character"),
        ("line\nbreak", "control character"),
        ("", "empty"),
        (" padded", "whitespace"),
        (LONG, "255 bytes"),
        ("é" * 128, "255 bytes"),  # 256 bytes of UTF-8 in 128 characters
        # Format characters: a bidi override makes "gpj\u202eexe" display as "exe.jpg".
        ("invoice\u202egpj.exe", "format character"),
        ("a\u2066b\u2069", "format character"),  # bidi isolates
        ("a\u200bb", "format character"),  # zero-width space
        ("\u200b", "format character"),  # a name that is only an invisible character
        ("\ufeffname", "format character"),  # BOM
        ("soft\u00adhyphen", "format character"),
        ("\u200dname", "format character"),  # a joiner must sit between visible characters
        ("name\u200c", "format character"),
        # Look-alike slashes: a name never reads as a path.
        ("etc\u2215passwd", "path separator"),  # DIVISION SLASH
        ("etc\uff0fpasswd", "path separator"),  # FULLWIDTH SOLIDUS
        ("1\u20442", "path separator"),  # FRACTION SLASH
        ("a\u29f8b", "path separator"),  # BIG SOLIDUS
        ("a\uff3cb", "path separator"),  # FULLWIDTH REVERSE SOLIDUS
        # Invisible fillers act like spaces; a name needs a visible character.
        ("\u3164", "whitespace"),  # HANGUL FILLER only
        ("name\u2800", "whitespace"),  # BRAILLE PATTERN BLANK at the end
        ("\u3000", "whitespace"),  # ideographic space only
        ("\u0301\u0302", "visible"),  # combining marks only
    ],
)
def test_bad_names_are_clear_400s(env: DriveEnv, name: str, reason: str) -> None:
    h = env.register()
    r = env.client.post("/api/drive/folders", json={"name": name}, headers=h)
    assert r.status_code == 400
    assert r.json()["errorMessageCode"] == "INVALID_NAME"
    assert reason in r.json()["message"]
    up = env.client.put(
        "/api/drive/upload", params={"folder_id": "root", "name": name}, content=b"x", headers=h
    )
    assert up.status_code == 400
    assert _ls(env, h)["total"] == 0


def test_joiners_inside_words_and_emoji_are_names(env: DriveEnv) -> None:
    h = env.register()
    # ZWJ emoji sequences and the Persian ZWNJ are ordinary text, not hiding tricks.
    for name in (
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    ):
        r = env.client.post("/api/drive/folders", json={"name": name}, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == name


def test_unicode_names_are_normalised_and_clash(env: DriveEnv) -> None:
    h = env.register()
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    r = env.client.post("/api/drive/folders", json={"name": nfd}, headers=h)
    assert r.status_code == 201
    assert r.json()["name"] == nfc
    clash = env.client.post("/api/drive/folders", json={"name": nfc}, headers=h)
    assert clash.status_code == 409
    assert clash.json()["errorMessageCode"] == "NAME_CONFLICT"
    emoji = env.client.post("/api/drive/folders", json={"name": "📁 日本語"}, headers=h)
    assert emoji.status_code == 201
    found = env.client.get("/api/drive/resolve", params={"path": "/📁 日本語"}, headers=h)
    assert found.json()["folder"]["id"] == emoji.json()["id"]


def test_listing_pages_and_sorts_folders_before_files(env: DriveEnv) -> None:
    h = env.register()
    for name in ("b", "a", "c"):
        env.mkdir(h, f"/{name}")
    sizes = {"z.txt": 5, "y.bin": 30, "x.jpg": 10}
    for name, size in sizes.items():
        env.put(h, f"/{name}", random_bytes(size))
    everything = _ls(env, h)
    assert _names(everything) == ["a", "b", "c", "x.jpg", "y.bin", "z.txt"]
    assert (everything["total"], everything["total_folders"], everything["total_files"]) == (
        6,
        3,
        3,
    )
    page = _ls(env, h, limit=2, offset=2)
    assert _names(page) == ["c", "x.jpg"]
    page = _ls(env, h, limit=2, offset=4)
    assert _names(page) == ["y.bin", "z.txt"]
    by_size = _ls(env, h, sort="size", order="desc")
    assert _names(by_size)[3:] == ["y.bin", "x.jpg", "z.txt"]
    assert _names(_ls(env, h, sort="name", order="desc"))[:3] == ["c", "b", "a"]
    bad = env.client.get("/api/drive/folders/root", params={"sort": "evil"}, headers=h)
    assert bad.status_code == 400
    assert (
        env.client.get("/api/drive/folders/root", params={"limit": 0}, headers=h).status_code == 400
    )
    assert env.client.get("/api/drive/folders/nope", headers=h).status_code == 404


def test_rename_move_and_cycles(env: DriveEnv) -> None:
    h = env.register()
    a = env.mkdir(h, "/a")
    b = env.mkdir(h, "/a/b")
    c = env.mkdir(h, "/c")
    f = env.put(h, "/a/b/file.txt", b"hello")
    r = env.client.patch(f"/api/drive/folders/{b['id']}", json={"parent_id": c["id"]}, headers=h)
    assert r.status_code == 200
    res = env.client.get("/api/drive/resolve", params={"path": "/c/b/file.txt"}, headers=h)
    assert res.json()["file"]["id"] == f["id"]
    cycle = env.client.patch(
        f"/api/drive/folders/{c['id']}", json={"parent_id": b["id"]}, headers=h
    )
    assert cycle.status_code == 400
    own = env.client.patch(f"/api/drive/folders/{c['id']}", json={"parent_id": c["id"]}, headers=h)
    assert own.status_code == 400
    clash = env.client.patch(f"/api/drive/folders/{c['id']}", json={"name": "a"}, headers=h)
    assert clash.status_code == 409
    renamed = env.client.patch(
        f"/api/drive/folders/{c['id']}", json={"name": "a", "on_conflict": "rename"}, headers=h
    )
    assert renamed.json()["name"] == "a (1)"
    # Files: rename with the policy, move, and skip leaves things alone.
    env.put(h, "/a/other.txt", b"x")
    r = env.client.patch(
        f"/api/drive/files/{f['id']}", json={"folder_id": a["id"], "name": "other.txt"}, headers=h
    )
    assert r.status_code == 409
    r = env.client.patch(
        f"/api/drive/files/{f['id']}",
        json={"folder_id": a["id"], "name": "other.txt", "on_conflict": "rename"},
        headers=h,
    )
    assert r.json()["name"] == "other (1).txt"
    assert r.json()["folder_id"] == a["id"]
    root_rename = env.client.patch("/api/drive/folders/root", json={"name": "x"}, headers=h)
    assert root_rename.status_code == 403


def test_delete_is_recursive_and_queues_chunks(make_env: Callable[..., DriveEnv]) -> None:
    from cordvault.drive import repository as repo

    env = make_env(drive_trash_retention_days=0)  # the trash off: deleting purges at once
    h = env.register()
    top = env.mkdir(h, "/top/mid/deep")
    env.put(h, "/top/one.bin", random_bytes(70_000))
    env.put(h, "/top/mid/deep/two.bin", random_bytes(10))
    r = env.client.delete(f"/api/drive/folders/{_resolve(env, h, '/top')}", headers=h)
    assert r.status_code == 200
    assert r.json() == {"deleted_files": 2}
    assert env.client.get(f"/api/drive/folders/{top['id']}", headers=h).status_code == 404
    assert _ls(env, h)["total"] == 0
    with env.drive.sessions() as db:
        assert repo.pending_garbage(db) == 3  # 2 chunks + 1 chunk


def _resolve(env: DriveEnv, h: dict[str, str], path: str) -> str:
    body = env.client.get("/api/drive/resolve", params={"path": path}, headers=h).json()
    return str((body.get("folder") or body.get("file"))["id"])


def test_merge_with_each_policy(env: DriveEnv) -> None:
    h = env.register()
    env.mkdir(h, "/src/sub")
    env.mkdir(h, "/dst/sub")
    env.put(h, "/src/same.txt", b"from src")
    env.put(h, "/src/only.txt", b"only")
    env.put(h, "/src/sub/inner.txt", b"inner")
    env.put(h, "/dst/same.txt", b"from dst")
    src, dst = _resolve(env, h, "/src"), _resolve(env, h, "/dst")
    fail = env.client.post(f"/api/drive/folders/{src}/merge", json={"into": dst}, headers=h)
    assert fail.status_code == 409
    # The failed merge changed nothing (one transaction).
    assert _resolve(env, h, "/src/only.txt")
    skip = env.client.post(
        f"/api/drive/folders/{src}/merge", json={"into": dst, "on_conflict": "skip"}, headers=h
    )
    assert skip.json() == {"moved": 2, "skipped": 1, "renamed": 0, "overwritten": 0}
    assert _resolve(env, h, "/dst/only.txt")
    assert _resolve(env, h, "/dst/sub/inner.txt")
    assert _resolve(env, h, "/src/same.txt")  # left behind, so src still exists
    over = env.client.post(
        f"/api/drive/folders/{src}/merge", json={"into": dst, "on_conflict": "overwrite"}, headers=h
    )
    assert over.json()["overwritten"] == 1
    same = _resolve(env, h, "/dst/same.txt")
    assert env.get(h, same) == b"from src"
    assert env.client.get(f"/api/drive/folders/{src}", headers=h).status_code == 404
    # Moving a folder onto a same-named folder with overwrite merges them.
    env.mkdir(h, "/x/a")
    env.mkdir(h, "/y/a")
    env.put(h, "/x/a/1.txt", b"1")
    env.put(h, "/y/a/2.txt", b"2")
    xa = _resolve(env, h, "/x/a")
    r = env.client.patch(
        f"/api/drive/folders/{xa}",
        json={"parent_id": _resolve(env, h, "/y"), "on_conflict": "overwrite"},
        headers=h,
    )
    assert r.status_code == 200
    assert _names(_ls(env, h, r.json()["id"])) == ["1.txt", "2.txt"]


def test_usage_by_type(env: DriveEnv) -> None:
    h = env.register()
    env.mkdir(h, "/m/deep")
    env.put(h, "/m/a.jpg", random_bytes(100))
    env.put(h, "/m/b.png", random_bytes(50))
    env.put(h, "/m/deep/c.mp4", random_bytes(300))
    env.put(h, "/m/d.txt", random_bytes(7))
    r = env.client.get(f"/api/drive/folders/{_resolve(env, h, '/m')}/usage", headers=h)
    body = r.json()
    assert (body["files"], body["size"]) == (4, 457)
    by_type = {t["type"]: (t["count"], t["size"]) for t in body["by_type"]}
    assert by_type == {"video": (1, 300), "image": (2, 150), "text": (1, 7)}
    assert {t["type"] for t in body["by_mime"]} == {
        "image/jpeg",
        "image/png",
        "video/mp4",
        "text/plain",
    }
