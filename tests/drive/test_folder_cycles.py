"""Folder cycles (issue 19): crossed concurrent moves never commit a cycle, a stored cycle makes
requests fail promptly instead of spinning, and ``cordvault drive doctor`` finds and repairs it.

The race tests use real threads through the whole HTTP stack (one TestClient shared by two
threads: the requests run concurrently in the app's thread pool, each with its own session).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from tests.drive.support import DriveEnv

from cordvault.cli.app import main
from cordvault.drive.folders import MAX_FOLDER_DEPTH
from cordvault.drive.models import ROOT_ID, TRASH_ID, Folder

PROMPT = 10.0  # seconds a request on corrupt data may take before the test calls it a hang


def _edges(env: DriveEnv) -> dict[str, str | None]:
    with env.drive.sessions() as db:
        return {str(i): p for i, p in db.execute(select(Folder.id, Folder.parent_id))}


def _unreachable(env: DriveEnv) -> list[str]:
    """Folders whose parent chain does not end at the root (bounded: no trust in the code)."""
    edges = _edges(env)
    bad = []
    for start in edges:
        current: str | None = start
        for _ in range(len(edges) + 1):
            if current is None or current in (ROOT_ID, TRASH_ID):
                break
            current = edges[current]
        if current not in (ROOT_ID, TRASH_ID):
            bad.append(start)
    return bad


def _concurrently(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together; each must answer within PROMPT."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # surfaced below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PROMPT)
        assert not t.is_alive(), "a request did not answer"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def _mkdir(env: DriveEnv, h: dict[str, str], name: str, parent: str = ROOT_ID) -> str:
    r = env.client.post("/api/drive/folders", json={"parent_id": parent, "name": name}, headers=h)
    assert r.status_code == 201, r.text
    folder_id: str = r.json()["id"]
    return folder_id


def _patch(env: DriveEnv, h: dict[str, str], folder: str, parent: str) -> httpx.Response:
    return env.client.patch(f"/api/drive/folders/{folder}", json={"parent_id": parent}, headers=h)


def _one_wins(responses: list[httpx.Response]) -> None:
    codes = sorted((r.status_code, r.json().get("errorMessageCode")) for r in responses)
    assert codes == [(200, None), (400, "INVALID_INPUT")], [r.text for r in responses]


def test_crossed_moves_never_commit_a_cycle(env: DriveEnv) -> None:
    h = env.register()
    started = time.monotonic()
    for i in range(100):
        x1, x2 = _mkdir(env, h, f"a{i}"), _mkdir(env, h, f"b{i}")
        responses = _concurrently(
            partial(_patch, env, h, x1, x2),
            partial(_patch, env, h, x2, x1),
        )
        _one_wins(responses)
        assert _unreachable(env) == [], f"a cycle was committed in round {i}"
    assert time.monotonic() - started < 120


def test_a_merge_crossed_with_a_move_never_commits_a_cycle(env: DriveEnv) -> None:
    """Merging x2 (holding y) into x1 while x1 moves under y would put y and x1 in a loop."""
    h = env.register()
    for i in range(30):
        x1, x2 = _mkdir(env, h, f"a{i}"), _mkdir(env, h, f"b{i}")
        y = _mkdir(env, h, "y", x2)
        url = f"/api/drive/folders/{x2}/merge"
        merge, move = _concurrently(
            partial(env.client.post, url, json={"into": x1}, headers=h),
            partial(_patch, env, h, x1, y),
        )
        codes = sorted((merge.status_code, move.status_code))
        assert codes in ([200, 200], [200, 400]), (merge.text, move.text)
        assert _unreachable(env) == [], f"a cycle was committed in round {i}"


def _store_cycle(env: DriveEnv, h: dict[str, str]) -> tuple[str, str, str]:
    """x1 <-> x2 stored straight in the DB (x3 inside x2), as the old race left them."""
    x1, x2 = _mkdir(env, h, "x1"), _mkdir(env, h, "x2")
    x3 = _mkdir(env, h, "x3", x2)
    env.put(h, "/x1/inside.txt", b"hello")
    with env.drive.sessions() as db, db.begin():
        db.execute(update(Folder).where(Folder.id == x1).values(parent_id=x2))
        db.execute(update(Folder).where(Folder.id == x2).values(parent_id=x1))
    assert sorted(_unreachable(env)) == sorted([x1, x2, x3])
    return x1, x2, x3


def _corrupt(r: httpx.Response) -> None:
    assert (r.status_code, r.json()["errorMessageCode"]) == (500, "TREE_CORRUPT"), r.text


def test_a_stored_cycle_answers_an_error_promptly(env: DriveEnv) -> None:
    h = env.register()
    x1, x2, x3 = _store_cycle(env, h)
    other = _mkdir(env, h, "other")
    c = env.client
    for path in (f"/api/drive/folders/{x1}", f"/api/drive/folders/{x3}"):
        (r,) = _concurrently(lambda path=path: c.get(path, headers=h))  # type: ignore[misc]
        _corrupt(r)
    for fid in (x1, x2):
        (r,) = _concurrently(lambda fid=fid: c.get(f"/api/drive/folders/{fid}/zip", headers=h))  # type: ignore[misc]
        _corrupt(r)
        (r,) = _concurrently(lambda fid=fid: c.get(f"/api/drive/folders/{fid}/usage", headers=h))  # type: ignore[misc]
        _corrupt(r)
    (r,) = _concurrently(lambda: c.delete(f"/api/drive/folders/{x1}", headers=h))
    _corrupt(r)
    (r,) = _concurrently(lambda: _patch(env, h, other, x3))
    _corrupt(r)
    (r,) = _concurrently(lambda: _patch(env, h, x1, ROOT_ID))  # a folder on the cycle
    _corrupt(r)
    (r,) = _concurrently(
        lambda: env.client.post(
            "/api/drive/folders", json={"parent_id": x3, "name": "n"}, headers=h
        )
    )
    _corrupt(r)
    # The rest of the tree is unaffected.
    assert c.get("/api/drive/resolve", params={"path": "/other"}, headers=h).status_code == 200
    assert c.get(f"/api/drive/folders/{ROOT_ID}/zip", headers=h).status_code == 200
    assert c.get(f"/api/drive/folders/{other}", headers=h).status_code == 200


def test_depth_is_limited_and_over_deep_chains_fail_promptly(env: DriveEnv) -> None:
    h = env.register()
    top = _mkdir(env, h, "top")
    with env.drive.sessions() as db, db.begin():
        owner = db.scalar(select(Folder.owner_id).where(Folder.id == top))
        parent, chain = top, []
        for level in range(2, MAX_FOLDER_DEPTH + 1):  # top is level 1
            row = Folder(id=f"deep{level:04d}", parent_id=parent, owner_id=owner, name="d")
            db.add(row)
            db.flush()
            parent = row.id
            chain.append(row.id)
    deepest = chain[-1]
    r = env.client.get(f"/api/drive/folders/{deepest}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["path"].count("/") == MAX_FOLDER_DEPTH
    r = env.client.post("/api/drive/folders", json={"parent_id": deepest, "name": "x"}, headers=h)
    assert (r.status_code, r.json()["errorMessageCode"]) == (400, "INVALID_INPUT"), r.text
    sub = _mkdir(env, h, "sub")
    _mkdir(env, h, "subsub", sub)
    r = _patch(env, h, sub, chain[-2])  # sub at MAX, subsub one below it
    assert (r.status_code, r.json()["errorMessageCode"]) == (400, "INVALID_INPUT"), r.text
    assert _patch(env, h, sub, chain[-3]).status_code == 200


def _doctor(env: DriveEnv, *args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", env.settings.effective_database_url)
        mp.setenv("DATA_DIR", str(env.settings.data_dir))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["drive", "doctor", *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_doctor_finds_and_repairs_a_stored_cycle(env: DriveEnv) -> None:
    h = env.register()
    clean = _doctor(env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no broken folders" in clean.stdout
    x1, x2, x3 = _store_cycle(env, h)
    _mkdir(env, h, "x2")  # the repaired folder's name is taken at the root
    found = _doctor(env)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "cycle of 2 folder(s)" in found.stdout, found.stdout
    assert "3 folder(s) cut off" in found.stdout
    assert "--repair" in found.stdout
    assert sorted(_unreachable(env)) == sorted([x1, x2, x3])  # only looked
    fixed = _doctor(env, "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "re-attached" in fixed.stdout
    assert _unreachable(env) == []
    for fid in (x1, x2, x3):
        r = env.client.get(f"/api/drive/folders/{fid}", headers=h)
        assert r.status_code == 200, r.text
    assert env.client.get(f"/api/drive/folders/{x1}/zip", headers=h).status_code == 200
    assert "no broken folders" in _doctor(env).stdout
