"""Quotas (refused before any chunk is stored, concurrent uploads) and name search."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from tests.drive.support import DriveEnv, random_bytes, sha

CHUNK = 64 * 1024


def _quota(env: DriveEnv, admin: dict[str, str], user: str, limit: int | str) -> dict[str, Any]:
    r = env.client.put(f"/api/drive/quotas/{user}", json={"limit": limit}, headers=admin)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_quota_refuses_before_any_chunk_is_stored(env: DriveEnv) -> None:
    admin = env.register()
    u = env.add_user(admin, "ursula")
    assert (
        env.client.put("/api/drive/quotas/ursula", json={"limit": 1}, headers=u).status_code == 403
    )
    assert _quota(env, admin, "ursula", 100_000)["setting"] == "custom"
    env.put(u, "/u1.bin", random_bytes(60_000))
    env.store.reset()
    # Resumable: refused when the session is opened, with the numbers.
    body = {"folder_id": "root", "name": "big", "size": 50_000, "sha256": sha(b"x")}
    r = env.client.post("/api/drive/uploads", json=body, headers=u)
    assert r.status_code == 507
    err = r.json()
    assert err["errorMessageCode"] == "QUOTA_EXCEEDED"
    assert err["details"] == {
        "quota": 100_000,
        "used": 60_000,
        "requested": 50_000,
        "available": 40_000,
    }
    # Streamed with a Content-Length: refused before the body is read.
    r = env.client.put(
        "/api/drive/upload", params={"path": "/s.bin"}, content=random_bytes(50_000), headers=u
    )
    assert r.status_code == 507

    # Streamed without a length (chunked): stops at the chunk that would cross the limit.
    def body_iter() -> Any:
        for i in range(3):
            yield random_bytes(CHUNK, seed=i)

    r = env.client.put(
        "/api/drive/upload", params={"path": "/c.bin"}, content=body_iter(), headers=u
    )
    assert r.status_code == 507, r.text
    assert env.store.counters.puts == 0  # not one chunk was stored
    usage = env.client.get("/api/drive/quota", headers=u).json()
    assert (usage["used"], usage["reserved"], usage["available"]) == (60_000, 0, 40_000)
    # A chunked upload that fits goes through; "unlimited" lifts the limit.
    r = env.client.put(
        "/api/drive/upload",
        params={"path": "/fits.bin"},
        content=iter([random_bytes(40_000)]),
        headers=u,
    )
    assert r.status_code == 201, r.text
    assert _quota(env, admin, "ursula", "unlimited")["limit"] is None
    all_rows = env.client.get("/api/drive/quotas", headers=admin).json()
    assert {q["user"]: q["used"] for q in all_rows}["ursula"] == 100_000


def test_concurrent_uploads_never_overshoot(make_env: Callable[..., DriveEnv]) -> None:
    env = make_env(drive_default_quota_bytes=5 * CHUNK)
    h = env.register()
    results: list[int] = []

    def upload(i: int) -> None:
        data = iter([random_bytes(CHUNK, seed=i * 10 + k) for k in range(2)])
        r = env.client.put(
            "/api/drive/upload", params={"path": f"/p{i}.bin"}, content=data, headers=h
        )
        results.append(r.status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 201, 507, 507]
    usage = env.client.get("/api/drive/quota", headers=h).json()
    assert usage["used"] == 4 * CHUNK <= usage["limit"]


@pytest.mark.parametrize("broad", [2000, 1], ids=["trigram-plan", "name-walk-plan"])
def test_search_is_case_accent_insensitive_paged_and_filtered(
    env: DriveEnv, broad: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plans of drive/search.py (the trigram index, the name-ordered walk taken for broad
    queries) give the same answers."""
    from cordvault.drive import search

    monkeypatch.setattr(search, "BROAD", broad)
    h = env.register()
    env.mkdir(h, "/Résumés")
    env.put(h, "/Résumés/CAFÉ Crème.txt", b"x")
    env.put(h, "/Résumés/cafe-photo.PNG", random_bytes(2000))
    env.put(h, "/other.txt", b"y")
    gone = env.put(h, "/Résumés/café-trashed.txt", b"z")
    env.client.delete(f"/api/drive/files/{gone['id']}", headers=h)

    def names(**params: Any) -> list[str]:
        r = env.client.get("/api/drive/search", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["name"] for i in r.json()["items"]]

    assert names(q="Cafe") == ["CAFÉ Crème.txt", "cafe-photo.PNG"]  # trashed never matches
    assert names(q="resume") == ["Résumés"]
    assert names(q="É") == ["CAFÉ Crème.txt", "cafe-photo.PNG", "other.txt", "Résumés"]  # short
    assert names(q="caf", type="image") == ["cafe-photo.PNG"]
    assert names(q="caf", min_size=1000) == ["cafe-photo.PNG"]
    assert names(q="e", kind="folder") == ["Résumés"]
    page = env.client.get("/api/drive/search", params={"q": "e", "limit": 2}, headers=h).json()
    assert page["has_more"] is True
    assert len(page["items"]) == 2
    # SQL and FTS syntax are just characters.
    assert names(q="%") == []
    assert names(q='" OR 1=1 --') == []
    assert names(q="_") == []
    renamed = env.client.get("/api/drive/search", params={"q": "other"}, headers=h).json()
    env.client.patch(
        f"/api/drive/files/{renamed['items'][0]['id']}", json={"name": "Ärger.txt"}, headers=h
    )
    assert names(q="arger") == ["Ärger.txt"]
    assert names(q="other") == []
    for bad in ({"q": ""}, {"q": "x" * 201}, {"q": "a", "kind": "link"}, {"q": "a", "limit": 0}):
        r = env.client.get("/api/drive/search", params=bad, headers=h)
        assert r.status_code == 400, bad
    assert env.client.get("/api/drive/search", params={"q": "a"}).status_code == 401
