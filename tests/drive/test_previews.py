"""Thumbnails: made in a limited child process, stored encrypted, served with the file's
access rules; hostile inputs end in "no thumbnail" within bounds (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from PIL import Image
from tests.drive import media
from tests.drive.support import DriveEnv

from cordvault.drive.previews import repository as prepo
from cordvault.drive.previews.service import run_pending, sweep


def _states(env: DriveEnv) -> dict[str, str]:
    with env.drive.sessions() as db:
        return {
            name: prepo.preview(db, fid).state  # type: ignore[union-attr]
            for name, fid in env.ids.items()  # type: ignore[attr-defined]
        }


def _upload(env: DriveEnv, headers: dict[str, str], name: str, data: bytes) -> str:
    file_id: str = env.put(headers, f"/{name}", data)["id"]
    env.ids[name] = file_id  # type: ignore[attr-defined]
    return file_id


@pytest.fixture
def penv(make_env: Callable[..., DriveEnv]) -> DriveEnv:
    env = make_env(preview_workers=0, preview_timeout_seconds=20)
    env.ids = {}  # type: ignore[attr-defined]
    return env


def test_thumbnails_of_images_videos_and_pdfs(penv: DriveEnv) -> None:
    env = penv
    alice = env.register("alice")
    carol = env.add_user(alice, "carol")
    files = {
        "photo.jpg": media.image("JPEG", (1200, 900)),
        "alpha.png": media.image("PNG", (300, 600), "RGBA"),
        "anim.gif": media.image("GIF"),
        "pic.webp": media.image("WEBP"),
        "pic.avif": media.image("AVIF"),
        "pic.heic": media.image("HEIF"),
        "clip.mp4": media.video(),
        "doc.pdf": media.pdf(),
    }
    ids = {name: _upload(env, alice, name, data) for name, data in files.items()}
    text_id = env.put(alice, "/notes.txt", b"plain text")["id"]

    before = env.client.get(f"/api/drive/files/{ids['photo.jpg']}/thumbnail", headers=alice)
    assert before.status_code == 404
    assert before.json()["errorMessageCode"] == "NO_THUMBNAIL"

    done = run_pending(env.drive, limit=50)
    assert done == {"ready": len(files)}, done
    assert run_pending(env.drive) == {}  # nothing left to do

    for name, file_id in ids.items():
        for size, edge in (("list", 160), ("grid", 480)):
            r = env.client.get(
                f"/api/drive/files/{file_id}/thumbnail", params={"size": size}, headers=alice
            )
            assert r.status_code == 200, (name, r.text)
            assert r.headers["content-type"] == "image/jpeg"
            im = Image.open(io.BytesIO(r.content))
            assert im.format == "JPEG", name
            assert max(im.size) <= edge, (name, im.size)
            if name == "photo.jpg":
                assert im.size == (edge, edge * 3 // 4)

    url = f"/api/drive/files/{ids['photo.jpg']}/thumbnail"
    r = env.client.get(url, params={"size": "grid", "v": 1}, headers=alice)
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    etag = r.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    again = env.client.get(url, headers={**alice, "if-none-match": etag})
    assert again.status_code == 304
    assert env.client.get(url, headers=alice).headers["cache-control"] == "private, no-cache"

    # The file's access rules: carol may not read alice's private file, nor its thumbnail.
    assert env.client.get(url, headers=carol).status_code == 403
    r = env.client.get(f"/api/drive/files/{text_id}/thumbnail", headers=alice)
    assert r.json()["errorMessageCode"] == "NO_THUMBNAIL"
    r = env.client.get(url, params={"size": "huge"}, headers=alice)
    assert r.status_code == 400

    # Stored encrypted: no JPEG/PNG signature anywhere in the chunk store.
    for path in (env.settings.data_dir / "chunks").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert b"\xff\xd8\xff" not in blob[:16]
            assert b"JFIF" not in blob
    scratch = env.settings.data_dir / "tmp" / "previews"
    assert list(scratch.iterdir()) == []  # no plaintext left behind

    # New content: the old thumbnail is stale at once, a new one is made.
    r = env.client.put(
        "/api/drive/upload",
        params={"path": "/photo.jpg", "on_conflict": "overwrite"},
        content=media.image("JPEG", (500, 500)),
        headers=alice,
    )
    assert r.status_code == 201, r.text
    assert env.client.get(url, headers=alice).json()["errorMessageCode"] == "NO_THUMBNAIL"
    assert run_pending(env.drive) == {"ready": 1}
    im = Image.open(io.BytesIO(env.client.get(url, headers=alice).content))
    assert im.size == (480, 480)

    # Deleted with the file: in the trash the thumbnail stays (a restore brings it back); once
    # the trash is emptied, the sweep forgets the row and queues its chunks.
    gone = env.client.delete(f"/api/drive/files/{ids['clip.mp4']}", headers=alice)
    assert gone.status_code == 204
    assert sweep(env.drive) == 0
    assert env.client.delete("/api/drive/trash", headers=alice).status_code == 200
    assert sweep(env.drive) == 1
    with env.drive.sessions() as db:
        assert prepo.preview(db, ids["clip.mp4"]) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hostile_files_get_no_thumbnail_within_bounds(penv: DriveEnv) -> None:
    env = penv
    alice = env.register("alice")
    photo = media.image("JPEG", (800, 600))
    hostile = {
        "bomb.png": media.png_bomb(),
        "wide.png": media.png_bomb(1_000_000, 100),
        "truncated.jpg": photo[: len(photo) // 2],
        "garbage.jpg": b"\xff\xd8\xff\xe0" + b"\x00\x17" * 5000,
        "streams250.mkv": media.video(streams=250, size=(16, 16)),
        "streams1000.mkv": media.video(streams=1000, size=(16, 16)),
        "loop.pdf": media.LOOPING_PDF,
        "notapdf.pdf": b"%PDF-1.7\n" + b"\x00" * 1000,
        "empty.png": b"",
    }
    for name, data in hostile.items():
        _upload(env, alice, name, data)
    good = _upload(env, alice, "fine.png", media.image("PNG"))
    start = time.monotonic()
    done = run_pending(env.drive, limit=50)
    elapsed = time.monotonic() - start
    assert done == {"none": len(hostile), "ready": 1}, done
    assert elapsed < 60
    states = _states(env)
    assert states.pop("fine.png") == "ready"
    assert set(states.values()) == {"none"}
    r = env.client.get(f"/api/drive/files/{good}/thumbnail", headers=alice)
    assert r.status_code == 200
    assert run_pending(env.drive) == {}  # "none" is final until the content changes


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_makes_missing_thumbnails(
    penv: DriveEnv, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cordvault.cli.app import build_app

    env = penv
    alice = env.register("alice")
    pic = _upload(env, alice, "pic.png", media.image("PNG"))
    _upload(env, alice, "bad.png", b"\x89PNG\r\n\x1a\nnot really")
    monkeypatch.setenv("DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("BROKER_URL", raising=False)
    result = CliRunner().invoke(build_app(), ["drive", "thumbnails"])
    assert result.exit_code == 0, result.output
    assert "1 thumbnail(s) made, 1 file(s) without one" in result.output
    r = env.client.get(f"/api/drive/files/{pic}/thumbnail", headers=alice)
    assert r.status_code == 200
    again = CliRunner().invoke(build_app(), ["drive", "thumbnails", "--retry"])
    assert "0 thumbnail(s) made, 1 file(s) without one" in again.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_run_whose_worker_died_is_retried_then_given_up(penv: DriveEnv) -> None:
    """A worker killed mid-run leaves its row ``running``: when the lease expires the file is
    claimed again (attempt 2); a run that killed its worker every time ends in "none" instead
    of staying ``running`` for ever (a stuck queue entry)."""
    from datetime import timedelta

    from cordvault.drive.models import utcnow
    from cordvault.drive.previews.models import NONE, READY, RUNNING
    from cordvault.drive.previews.service import MAX_ATTEMPTS, claim

    env = penv
    alice = env.register("alice")
    retried = _upload(env, alice, "retried.png", media.image("PNG"))
    killer = _upload(env, alice, "killer.png", media.image("PNG"))
    for file_id in (retried, killer):
        assert claim(env.drive, file_id) is not None  # a worker takes it, then dies
    assert run_pending(env.drive) == {}  # leases still live: nobody else takes them
    with env.drive.sessions() as db, db.begin():
        for file_id, attempts in ((retried, 1), (killer, MAX_ATTEMPTS)):
            row = prepo.preview(db, file_id)
            assert row is not None
            assert row.state == RUNNING
            row.attempts, row.lease_until = attempts, utcnow() - timedelta(seconds=1)
    assert run_pending(env.drive) == {"ready": 1}
    with env.drive.sessions() as db:
        done, dead = prepo.preview(db, retried), prepo.preview(db, killer)
        assert done is not None
        assert (done.state, done.attempts) == (READY, 2)
        assert dead is not None
        assert dead.state == NONE
    assert run_pending(env.drive) == {}
