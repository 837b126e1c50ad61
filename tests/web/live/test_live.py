"""/api/ws over a real server and a real WebSocket client, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.web.live.conftest import PASSWORD, Live


def _ids(packets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["id"], p["data"].get("change") or p["data"].get("action", "")) for p in packets]


def test_events_reach_exactly_the_users_allowed_to_see_them(
    make_live: Callable[..., Live],
) -> None:
    live = make_live()
    alice = live.token("alice")
    bob = live.token("bob", admin=alice)
    carol = live.token("carol", admin=alice)
    s_alice, s_bob, s_carol = live.socket(alice), live.socket(bob), live.socket(carol)

    # A new file: tree metadata, every signed-in user sees it (no content hash in it).
    row = live.put(alice, "/notes.txt", b"hello")
    for sock in (s_alice, s_bob, s_carol):
        got = sock.events()
        assert _ids(got) == [("s2c:file-modify", "created")]
        assert got[0]["data"]["handle"]["id"] == row["id"]
        assert got[0]["data"]["path"] == "/"
        assert "sha256" not in got[0]["data"]["handle"]

    # A share: the owner and the user it names, nobody else.
    r = live.http.put(
        f"/api/drive/files/{row['id']}/shares/bob",
        json={"access": "read"},
        headers=live.auth(alice),
    )
    assert r.status_code == 200, r.text
    assert _ids(s_alice.events()) == [("s2c:file-modify", "shared")]
    assert _ids(s_bob.events()) == [("s2c:file-modify", "shared")]
    assert s_carol.events(0.3) == []

    # Upload progress and completion: the uploader only.
    sha = hashlib.sha256(b"x" * 10).hexdigest()
    r = live.http.post(
        "/api/drive/uploads",
        json={"folder_id": "root", "name": "up.bin", "size": 10, "sha256": sha},
        headers=live.auth(bob),
    )
    assert r.status_code == 201, r.text
    up = r.json()["id"]
    chunk_url = f"/api/drive/uploads/{up}/chunks/0"
    r = live.http.put(chunk_url, content=b"x" * 10, headers=live.auth(bob))
    assert r.status_code in (200, 201, 204), r.text
    r = live.http.post(f"/api/drive/uploads/{up}/complete", headers=live.auth(bob))
    assert r.status_code in (200, 201), r.text
    got_bob = s_bob.events()
    assert [p["id"] for p in got_bob] == [
        "s2c:upload-progress",
        "s2c:file-modify",
        "s2c:upload-finish-info",
    ]
    assert got_bob[0]["data"] == {"upload_id": up, "index": 0, "received": 1, "chunk_count": 1}
    assert got_bob[2]["data"]["success"] is True
    assert [p["id"] for p in s_carol.events()] == ["s2c:file-modify"]  # the new file only
    assert [p["id"] for p in s_alice.events()] == ["s2c:file-modify"]

    # A rolled-back change announces nothing: carol may not rename alice's file.
    reply = s_carol.request("c2s:rename-file", {"id": row["id"], "target_name": "x.txt"})
    assert reply["id"] == "generic:boolean"
    assert reply["data"]["success"] is False
    assert reply["data"]["code"] == "FORBIDDEN"  # the same code as REST
    rest = live.http.patch(
        f"/api/drive/files/{row['id']}", json={"name": "x.txt"}, headers=live.auth(carol)
    )
    assert rest.status_code == 403
    assert rest.json()["errorMessageCode"] == "FORBIDDEN"
    assert s_alice.events(0.3) == []
    assert s_bob.events(0.1) == []


def test_requests_call_the_drive_services(make_live: Callable[..., Live]) -> None:
    live = make_live()
    alice = live.token("alice")
    bob = live.token("bob", admin=alice)
    s_alice, s_bob = live.socket(alice), live.socket(bob)
    a = live.put(alice, "/a.txt", b"aaa")
    live.put(alice, "/b.txt", b"bbb")
    s_alice.events(0.2), s_bob.events(0.2)

    made = s_alice.request("c2s:create-folder", {"path": "/docs/2024"})
    assert made["data"]["success"] is True
    docs = s_alice.request("c2s:list-request", {"path": "/", "ascending_sort": True})
    assert docs["id"] == "s2c:list"
    assert [f["name"] for f in docs["data"]["folders"]] == ["docs"]
    assert [f["name"] for f in docs["data"]["files"]] == ["a.txt", "b.txt"]
    assert docs["data"]["files"][0]["access"] == "owner"
    docs_id = docs["data"]["folders"][0]["id"]
    assert [p["data"]["action"] for p in s_bob.events() if p["id"] == "s2c:folder-modify"] == [
        "add",
        "add",
    ]

    moved = s_alice.request("c2s:move-files", {"target_id": docs_id, "files": ["a.txt", "b.txt"]})
    assert moved["data"]["success"] is True
    changes = [p["data"]["change"] for p in s_bob.events()]
    assert changes == ["moved", "moved"]
    renamed = s_alice.request(
        "c2s:rename-file", {"path": "/docs", "name": "a.txt", "target_name": "c.txt"}
    )
    assert renamed["data"]["file"]["name"] == "c.txt"
    got = s_bob.events()
    assert got[0]["data"]["change"] == "renamed"
    assert got[0]["data"]["rename_origin"] == "a.txt"
    assert got[0]["data"]["path"] == "/docs"

    bob_id = s_bob.request("c2s:file-stat", {"id": a["id"]})["data"]["handle"]["owner_id"]
    assert bob_id is not None
    shared = s_alice.request("c2s:file-share", {"id": a["id"], "target_user": 2, "can_write": True})
    assert shared["data"] == {"success": True, "share": {"user": 2, "access": "write"}}
    assert s_bob.request("c2s:file-stat", {"id": a["id"]})["data"]["handle"]["access"] == "write"
    published = s_alice.request("c2s:file-publish", {"id": a["id"], "public": True})
    assert published["data"]["file"]["public"] is True
    s_bob.events(0.3)

    gone = s_bob.request("c2s:delete-file", {"id": a["id"]})
    assert gone["data"]["code"] == "FORBIDDEN"
    assert s_alice.request("c2s:delete-file", {"id": a["id"]})["data"]["success"] is True
    assert _ids(s_bob.events()) == [("s2c:file-modify", "deleted")]
    assert s_alice.request("c2s:delete-folder", {"folder_id": docs_id})["data"] == {
        "success": True,
        "deleted_files": 1,
    }
    assert _ids(s_bob.events()) == [("s2c:folder-modify", "delete")]
    missing = s_alice.request("c2s:file-stat", {"id": a["id"]})
    assert missing["data"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_protocol_errors(make_live: Callable[..., Live]) -> None:
    live = make_live(live_max_packet_bytes=1024, live_packets_per_second=5.0)
    alice = live.token("alice")
    sock = live.socket(alice)
    sock.ws.send("{not json")
    assert sock.recv()["data"]["code"] == "INVALID_PACKET"
    sock.ws.send(b"\x00binary")
    assert sock.recv()["data"]["code"] == "INVALID_PACKET"
    sock.ws.send(json.dumps({"id": "c2s:list-request", "data": {}}))  # no uuid
    assert sock.recv()["data"]["code"] == "INVALID_PACKET"
    bad = sock.request("c2s:no-such-thing", {})
    assert bad["data"]["code"] == "UNKNOWN_PACKET"
    missing = sock.request("c2s:rename-folder", {"id": "root"})
    assert missing["data"]["code"] == "INVALID_PACKET"
    assert missing["data"]["details"] == {"field": "target_name"}
    time.sleep(1.0)  # refill the bucket
    for _ in range(15):  # at once: a burst of 10 (twice the rate) passes, then refusals
        sock.send("c2s:ping")
    replies = [sock.recv() for _ in range(15)]
    assert [p["id"] for p in replies].count("s2c:pong") in (10, 11)
    refused = [p["data"]["code"] for p in replies if p["id"] == "generic:boolean"]
    assert refused
    assert set(refused) == {"RATE_LIMITED"}
    sock.ws.send(json.dumps({"id": "c2s:ping", "uuid": "u", "data": {"pad": "x" * 2000}}))
    assert sock.recv()["data"]["code"] == "PACKET_TOO_LARGE"
    assert sock.close_code() == 4413


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_authentication_and_timeouts(make_live: Callable[..., Live]) -> None:
    live = make_live(
        live_auth_timeout_seconds=0.5, live_idle_timeout_seconds=1.0, live_heartbeat_seconds=0.3
    )
    alice = live.token("alice")
    # Anything but c2s:auth first, or a bad token: an error packet, then 4401.
    for first in (("c2s:list-request", {}), ("c2s:auth", {"token": alice + "x"})):
        sock = live.socket()
        sock.send(*first)
        assert sock.recv()["data"]["code"] == "UNAUTHORIZED"
        assert sock.close_code() == 4401
    # Silence before authenticating: 4408.
    sock = live.socket()
    assert sock.recv()["data"]["code"] == "UNAUTHORIZED"
    assert sock.close_code() == 4408
    # Heartbeats arrive; a client that only listens is closed after the idle timeout.
    sock = live.socket(alice)
    assert sock.recv(heartbeats=True)["id"] == "s2c:heartbeat"
    start = time.monotonic()
    assert sock.close_code() == 4408
    assert time.monotonic() - start < 2.0
    # A client that pings stays.
    sock = live.socket(alice)
    for _ in range(4):
        time.sleep(0.4)
        assert sock.request("c2s:ping")["id"] == "s2c:pong"


def test_credentials_change_closes_sockets_within_a_second(
    make_live: Callable[..., Live],
) -> None:
    live = make_live()
    alice = live.token("alice")
    bob = live.token("bob", admin=alice)
    carol = live.token("carol", admin=alice)
    old_bob, s_carol, s_alice = live.socket(bob), live.socket(carol), live.socket(alice)

    r = live.http.post(
        "/api/auth/password",
        json={"old_password": "correct horse battery", "new_password": "another long one"},
        headers=live.auth(bob),
    )
    start = time.monotonic()
    assert r.status_code == 200, r.text
    new_bob = live.socket(r.json()["token"])  # the new token's socket survives
    assert old_bob.close_code(2.0) == 4401
    assert time.monotonic() - start < 1.0

    r = live.http.patch("/api/auth/users/3", json={"disabled": True}, headers=live.auth(alice))
    start = time.monotonic()
    assert r.status_code == 200, r.text
    assert s_carol.close_code(2.0) == 4401
    assert time.monotonic() - start < 1.0
    assert new_bob.request("c2s:ping")["id"] == "s2c:pong"
    assert s_alice.request("c2s:ping")["id"] == "s2c:pong"


def test_revoking_a_session_closes_its_sockets_within_a_second(
    make_live: Callable[..., Live],
) -> None:
    """Revoke one, all others, logout, an administrator's revoke-all: each closes exactly the
    sockets of the sessions it ended (4401), quickly; the other sessions' sockets stay."""
    live = make_live()
    alice = live.token("alice")
    b1, b2, b3, b4 = (live.token("bob", admin=alice) if i == 0 else _login(live) for i in range(4))
    s1, s2, s3, s4 = (live.socket(t) for t in (b1, b2, b3, b4))
    s_alice = live.socket(alice)
    current = {
        s["current"]: s["id"]
        for s in live.http.get("/api/auth/sessions", headers=live.auth(b1)).json()
    }

    def closes(sock: Any, response: httpx.Response) -> None:
        start = time.monotonic()
        assert response.status_code in (200, 204), response.text
        assert sock.close_code(2.0) == 4401
        assert time.monotonic() - start < 1.0

    closes(s1, live.http.delete(f"/api/auth/sessions/{current[True]}", headers=live.auth(b2)))
    assert s2.request("c2s:ping")["id"] == "s2c:pong"
    closes(
        s3,
        live.http.delete(
            "/api/auth/sessions", params={"keep_current": "true"}, headers=live.auth(b4)
        ),
    )
    assert s4.request("c2s:ping")["id"] == "s2c:pong"
    # s2's session was revoked along with s3's (all but b4's): already closed.
    assert s2.close_code(2.0) == 4401
    b5 = _login(live)
    s5 = live.socket(b5)
    closes(s5, live.http.post("/api/auth/logout", headers=live.auth(b5)))
    assert s4.request("c2s:ping")["id"] == "s2c:pong"
    closes(s4, live.http.delete("/api/auth/users/2/sessions", headers=live.auth(alice)))
    assert s_alice.request("c2s:ping")["id"] == "s2c:pong"


def _login(live: Live) -> str:
    r = live.http.post("/api/auth/login", json={"name": "bob", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def test_events_of_one_flush_go_out_together_and_batch_sockets_get_one_frame(
    make_live: Callable[..., Live],
) -> None:
    """Events arriving within LIVE_FLUSH_SECONDS leave together, in order, each audience's
    share only; a ``?batch=1`` socket receives them as one JSON-array frame."""
    import json

    from websockets.sync.client import connect

    from cordvault.web.live.connection import merge_frames

    live = make_live(live_flush_seconds=1.0)
    alice = live.token("alice")
    bob = live.token("bob", admin=alice)
    carol = live.token("carol", admin=alice)
    row = live.put(alice, "/notes.txt", b"hello")
    plain_bob = live.socket(bob)
    batched: dict[str, Any] = {}
    for name, token in (("bob", bob), ("carol", carol)):
        ws = connect(live.base.replace("http", "ws", 1) + "/api/ws?batch=1", legacy=True)
        ws.send(json.dumps({"id": "c2s:auth", "uuid": "u1", "data": {"token": token}}))
        ok = json.loads(ws.recv(timeout=5))
        assert ok["id"] == "s2c:auth-ok"
        assert ok["data"]["batch"] is True
        batched[name] = ws
    assert plain_bob.events(1.5) == []  # the upload's event went out before the sockets

    headers = live.auth(alice)
    assert live.http.post("/api/drive/mkdir", params={"path": "/a"}, headers=headers).is_success
    r = live.http.put(
        f"/api/drive/files/{row['id']}/shares/bob", json={"access": "read"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert live.http.post("/api/drive/mkdir", params={"path": "/b"}, headers=headers).is_success

    def names(packets: list[dict[str, Any]]) -> list[str]:
        return [p["data"].get("change") or p["data"]["handle"]["name"] for p in packets]

    frame = json.loads(batched["bob"].recv(timeout=5))
    assert isinstance(frame, list)
    assert names(frame) == ["a", "shared", "b"]
    frame = json.loads(batched["carol"].recv(timeout=5))
    assert names(frame) == ["a", "b"]  # the share is bob's and alice's news only
    got = plain_bob.events(1.0)
    assert names(got) == ["a", "shared", "b"]  # one packet per frame without ?batch=1
    for ws in batched.values():
        ws.close()

    assert merge_frames(['{"id":1}', '[{"id":2},{"id":3}]']) == '[{"id":1},{"id":2},{"id":3}]'
