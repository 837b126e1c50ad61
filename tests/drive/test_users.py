"""Accounts through the HTTP API: first admin, admin management, login, tokens, throttling."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from tests.drive.support import PASSWORD, DriveEnv, auth

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.drive.keys import load_signing_keys


def test_first_user_registers_as_admin_then_registration_closes(env: DriveEnv) -> None:
    c = env.client
    r = c.post("/api/auth/register", json={"name": "alice", "password": PASSWORD})
    assert r.status_code == 201
    body = r.json()
    assert body["user"]["is_admin"] is True
    assert "password" not in r.text
    assert "hash" not in r.text
    me = c.get("/api/auth/me", headers=auth(body["token"]))
    assert me.json()["name"] == "alice"
    again = c.post("/api/auth/register", json={"name": "bob", "password": PASSWORD})
    assert again.status_code == 403
    assert again.json()["errorMessageCode"] == "FORBIDDEN"


def test_admin_creates_and_manages_users_others_cannot(env: DriveEnv) -> None:
    admin = env.register("alice")
    bob = env.add_user(admin, "bob")
    c = env.client
    r = c.post("/api/auth/users", json={"name": "carol", "password": PASSWORD}, headers=bob)
    assert r.status_code == 403
    dup = c.post("/api/auth/users", json={"name": "bob", "password": PASSWORD}, headers=admin)
    assert dup.status_code == 409
    bad = c.post("/api/auth/users", json={"name": "../x", "password": PASSWORD}, headers=admin)
    assert bad.status_code == 400
    short = c.post("/api/auth/users", json={"name": "dave", "password": "short"}, headers=admin)
    assert short.status_code == 400
    bob_id = c.get("/api/auth/me", headers=bob).json()["id"]
    # Promotion, then disabling: the disabled account's token and login both stop working.
    r = c.patch(f"/api/auth/users/{bob_id}", json={"is_admin": True}, headers=admin)
    assert r.json()["is_admin"] is True
    r = c.patch(f"/api/auth/users/{bob_id}", json={"disabled": True}, headers=admin)
    assert r.status_code == 200
    assert c.get("/api/auth/me", headers=bob).status_code == 401
    assert c.post("/api/auth/login", json={"name": "bob", "password": PASSWORD}).status_code == 401
    alice_id = c.get("/api/auth/me", headers=admin).json()["id"]
    assert (
        c.patch(f"/api/auth/users/{alice_id}", json={"disabled": True}, headers=admin).status_code
        == 409
    )
    names = [u["name"] for u in c.get("/api/auth/users", params={"q": "b"}, headers=admin).json()]
    assert names == ["bob"]


def test_password_change_invalidates_every_earlier_token(env: DriveEnv) -> None:
    admin = env.register("alice")
    second = env.login("alice")
    c = env.client
    wrong = c.post(
        "/api/auth/password",
        json={"old_password": "not it at all", "new_password": "a new password"},
        headers=admin,
    )
    assert wrong.status_code == 401
    r = c.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "a new password"},
        headers=admin,
    )
    assert r.status_code == 200
    fresh = auth(r.json()["token"])
    assert c.get("/api/auth/me", headers=admin).status_code == 401
    assert c.get("/api/auth/me", headers=second).status_code == 401
    assert c.get("/api/auth/me", headers=fresh).status_code == 200
    assert (
        c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}).status_code == 401
    )
    env.login("alice", "a new password")


def test_expired_forged_and_malformed_tokens_are_rejected(env: DriveEnv) -> None:
    registered = env.register("alice")["Authorization"][7:]
    sid = jwt.decode(registered, options={"verify_signature": False})["sid"]
    c = env.client
    key = env.drive.signing.token_key
    now = datetime.now(UTC)
    claims = {"sub": "1", "sid": sid, "ver": 0, "typ": "drive", "iat": int(now.timestamp())}
    later = int((now + timedelta(hours=1)).timestamp())
    expired = jwt.encode({**claims, "exp": int((now - timedelta(seconds=5)).timestamp())}, key)
    forged = jwt.encode({**claims, "exp": later}, b"x" * 32)
    stale = jwt.encode({**claims, "ver": 7, "exp": later}, key)
    unsigned = jwt.encode({**claims, "exp": later}, None, algorithm="none")
    no_session = jwt.encode({**claims, "sid": None, "exp": later}, key)
    unknown_session = jwt.encode({**claims, "sid": "0" * 32, "exp": later}, key)
    other_user = jwt.encode({**claims, "sub": "2", "exp": later}, key)
    sessionless = {k: v for k, v in claims.items() if k != "sid"}
    before_sessions = jwt.encode({**sessionless, "exp": later}, key)  # a pre-issue-18 token
    good = jwt.encode({**claims, "exp": later}, key)
    bad = (expired, forged, stale, unsigned, no_session, unknown_session, other_user)
    for token in (*bad, before_sessions, "garbage", ""):
        r = c.get("/api/auth/me", headers=auth(token))
        assert r.status_code == 401, token
        assert r.json()["errorMessageCode"] == "UNAUTHORIZED"
    assert c.get("/api/auth/me").status_code == 401
    assert c.get("/api/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert c.get("/api/auth/me", headers=auth(good)).status_code == 200


def test_password_change_counts_as_a_sign_in_attempt(env: DriveEnv) -> None:
    """A stolen token gives no unlimited guesses at the old password: wrong old passwords
    count as failed sign-ins of the account from that client, and once that client must wait
    even the right one gets 429. The owner elsewhere is not affected."""
    admin = env.register("admin")
    bob = env.add_user(admin, "bob")
    c = env.client

    def change(old: str) -> Any:
        body = {"old_password": old, "new_password": "a new password"}
        return c.post("/api/auth/password", json=body, headers=bob)

    # One failed login plus wrong old passwords share the (account, client) budget.
    assert (
        c.post("/api/auth/login", json={"name": "bob", "password": "nope nope"}).status_code == 401
    )
    for _ in range(env.settings.drive_login_max_failures - 1):
        r = change("wrong password")
        assert r.status_code == 401
        assert r.json()["errorMessageCode"] == "UNAUTHORIZED"
    for old in ("wrong password", PASSWORD):
        r = change(old)
        assert r.status_code == 429, r.text
        assert r.json()["errorMessageCode"] == "RATE_LIMITED"
        assert r.json()["details"]["retry_after"] > 0
        assert int(r.headers["retry-after"]) >= 1
    assert c.post("/api/auth/login", json={"name": "bob", "password": PASSWORD}).status_code == 429
    # The token still works for everything else; bob from another address signs in at once.
    assert c.get("/api/auth/me", headers=bob).status_code == 200
    elsewhere = env.from_address("127.0.0.3")
    r = elsewhere.post("/api/auth/login", json={"name": "bob", "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_password_change_clears_the_failures_once_right(env: DriveEnv) -> None:
    env.register("alice")
    alice = env.login("alice")
    c = env.client
    for _ in range(env.settings.drive_login_max_failures - 1):
        body = {"old_password": "wrong password", "new_password": "a new password"}
        assert c.post("/api/auth/password", json=body, headers=alice).status_code == 401
    body = {"old_password": PASSWORD, "new_password": "a new password"}
    assert c.post("/api/auth/password", json=body, headers=alice).status_code == 200
    # The pair's budget is whole again: failures below the limit cause no wait.
    for _ in range(env.settings.drive_login_max_failures - 1):
        r = c.post("/api/auth/login", json={"name": "alice", "password": "wrong password"})
        assert r.status_code == 401
    env.login("alice", "a new password")


def test_secret_key_is_generated_once_with_0600_and_placeholders_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, drive_secret_key=None)
    first = load_signing_keys(settings)
    path = tmp_path / "drive_secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_signing_keys(settings) == first
    assert first.token_key != first.link_key
    for bad in ("changeme", "short", "changethis-changethis-changethis-123"):
        with pytest.raises(CordvaultError) as info:
            load_signing_keys(Settings(data_dir=tmp_path, drive_secret_key=bad))
        assert info.value.code == ErrorCode.INVALID_SETTINGS
        assert bad not in info.value.message
    ok = load_signing_keys(Settings(data_dir=tmp_path, drive_secret_key="k" * 8 + "Zq81-nv" * 5))
    assert ok != first
