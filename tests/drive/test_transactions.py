"""The drive routes' request transaction (``web/drive/deps.py``): committed before the answer is
sent, so a failing commit is the answer; over before a download or a zip streams."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event
from tests.drive.conftest import CHUNK
from tests.drive.support import DriveEnv, random_bytes

from cordvault.core.errors import CordvaultError, ErrorCode


def test_a_failing_commit_is_the_answer(env: DriveEnv) -> None:
    h = env.register()

    def refuse(_session: object) -> None:
        raise CordvaultError(ErrorCode.CONFLICT, "commit refused")

    event.listen(env.drive.sessions, "before_commit", refuse)
    try:
        r = env.client.post("/api/drive/mkdir", params={"path": "/kept-out"}, headers=h)
    finally:
        event.remove(env.drive.sessions, "before_commit", refuse)
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "commit refused"
    gone = env.client.get("/api/drive/resolve", params={"path": "/kept-out"}, headers=h)
    assert gone.status_code == 404


@pytest.mark.parametrize("what", ["content", "zip", "link"])
def test_content_streams_after_the_transaction_closed(
    env: DriveEnv, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    h = env.register()
    data = random_bytes(3 * CHUNK + 5)
    env.mkdir(h, "/dir")
    f = env.put(h, "/dir/big.bin", data)
    engine: Engine = env.drive.sessions.kw["bind"]
    held: list[int] = []
    read = env.store.get

    def get(locator: str, start: int = 0, end: int | None = None) -> bytes:
        held.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        return read(locator, start, end)

    monkeypatch.setattr(env.store, "get", get)
    if what == "content":
        r = env.client.get(f"/api/drive/files/{f['id']}/content", headers=h)
        assert r.content == data
    elif what == "zip":
        r = env.client.get(f"/api/drive/folders/{f['folder_id']}/zip", headers=h)
        assert r.status_code == 200
    else:
        link = env.client.post(f"/api/drive/files/{f['id']}/links", json={}, headers=h).json()
        r = env.client.get(f"/api/drive/dl/{link['token']}")
        assert r.content == data
    assert held, "the store was never read"
    assert set(held) == {0}, "a DB connection was held while the content streamed"
