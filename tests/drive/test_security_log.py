"""The security log: every security event once, with who/where, never a secret; admins read
all of it, users their own; old events are pruned. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import MetaData, select
from tests.drive.support import PASSWORD, DriveEnv, auth

from cordvault.drive import security_log, signin
from cordvault.drive.models import utcnow
from cordvault.drive.rotation import rewrap_all

TYPED_AS_NAME = "hunter2-typed-into-the-name-field"
WRONG = "a wrong password for admin"
RESET = "the password the admin set"
NEW = "bob's own new password"


def _log(env: DriveEnv, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = env.client.get("/api/auth/security-log", params={"limit": 1000, **params}, headers=headers)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def test_each_event_is_logged_once_without_secrets(env: DriveEnv) -> None:
    c = env.client
    admin = env.register("admin")
    laptop = env.from_address("127.0.0.2")
    r = laptop.post(
        "/api/auth/login",
        json={"name": "admin", "password": PASSWORD},
        headers={"User-Agent": "probe/1.0"},
    )
    admin_token = r.json()["token"]
    admin = auth(admin_token)
    laptop.post("/api/auth/login", json={"name": TYPED_AS_NAME, "password": "x" * 8})
    laptop.post("/api/auth/login", json={"name": "admin", "password": WRONG})
    bob_id = c.post(
        "/api/auth/users", json={"name": "bob", "password": PASSWORD}, headers=admin
    ).json()["id"]
    for patch in ({"is_admin": True}, {"is_admin": False}, {"disabled": True}):
        assert c.patch(f"/api/auth/users/{bob_id}", json=patch, headers=admin).status_code == 200
    c.patch(f"/api/auth/users/{bob_id}", json={"disabled": False, "password": RESET}, headers=admin)
    bob = env.login("bob", RESET)
    r = c.post("/api/auth/password", json={"old_password": RESET, "new_password": NEW}, headers=bob)
    bob = auth(r.json()["token"])
    file_id = env.put(bob, "/report.txt", b"quarterly numbers")["id"]
    c.put(f"/api/drive/files/{file_id}/shares/admin", json={"access": "read"}, headers=bob)
    c.delete(f"/api/drive/files/{file_id}/shares/admin", headers=bob)
    c.patch(f"/api/drive/files/{file_id}", json={"public": True}, headers=bob)
    c.patch(f"/api/drive/files/{file_id}", json={"public": False}, headers=bob)
    link = c.post(f"/api/drive/files/{file_id}/links", json={}, headers=bob).json()
    assert c.delete(f"/api/drive/links/{link['id']}", headers=bob).status_code == 204
    c.post(f"/api/drive/files/{file_id}/owner", json={"user": "admin"}, headers=bob)
    bob_sid = c.get("/api/auth/sessions", headers=bob).json()[0]["id"]
    c.delete(f"/api/auth/sessions/{bob_sid}", headers=admin)
    c.post(f"/api/auth/users/{bob_id}/unlock", json={}, headers=admin)
    rewrap_all(env.drive)

    rows = _log(env, admin)
    kinds = Counter(e["kind"] for e in rows)
    assert kinds == {
        "account.created": 2,
        "signin.success": 2,  # admin from the laptop, bob with the reset password
        "signin.failure": 2,
        "account.promoted": 1,
        "account.demoted": 1,
        "account.disabled": 1,
        "account.enabled": 1,
        "password.reset": 1,
        "password.changed": 1,
        "file.shared": 1,
        "file.unshared": 1,
        "file.public": 1,
        "file.private": 1,
        "link.created": 1,
        "link.revoked": 1,
        "file.transferred": 1,
        "session.revoked": 1,
        "signin.unlocked": 1,
        "keys.rewrapped": 1,
    }, kinds
    by_kind = {e["kind"]: e for e in rows}
    success = next(e for e in rows if e["kind"] == "signin.success" and e["user_id"] == 1)
    assert (success["client_address"], success["user_agent"]) == ("127.0.0.2", "probe/1.0")
    failures = [e for e in rows if e["kind"] == "signin.failure"]
    assert {(e["user_id"], e["detail"].get("account")) for e in failures} == {
        (1, None),
        (None, "unknown"),
    }
    assert by_kind["password.reset"]["user_id"] == bob_id
    assert by_kind["password.reset"]["actor_id"] == 1
    assert by_kind["file.transferred"]["detail"] == {"file": file_id, "from_user": bob_id}
    assert by_kind["link.created"]["detail"]["link"] == link["id"]

    # No secret anywhere in the database: not in the log, not in any other table.
    secrets = [PASSWORD, TYPED_AS_NAME, WRONG, RESET, NEW, admin_token, link["token"]]
    secrets += [h["Authorization"][7:] for h in (bob,)]
    dump = _dump_database(env)
    for secret in secrets:
        assert secret not in dump, secret[:12]


def _dump_database(env: DriveEnv) -> str:
    meta = MetaData()
    with env.drive.sessions() as db:
        meta.reflect(bind=db.get_bind())
        parts = []
        for table in meta.sorted_tables:
            for row in db.execute(select(table)):
                parts.append(repr(tuple(row)))
    text = "\n".join(parts)
    assert "drive_security_events" in meta.tables
    assert "report.txt" in text
    return text


def test_users_read_their_own_events_admins_all(env: DriveEnv) -> None:
    admin = env.register("admin")
    bob = env.add_user(admin, "bob")
    carol = env.add_user(admin, "carol")
    c = env.client
    bob_id = c.get("/api/auth/me", headers=bob).json()["id"]
    mine = _log(env, bob)
    assert mine
    assert all(bob_id in (e["user_id"], e["actor_id"]) for e in mine)
    assert {e["kind"] for e in mine} == {"account.created", "signin.success"}
    # Asking for someone else's events gives one's own.
    assert _log(env, bob, user_id=1) == mine
    everything = _log(env, admin)
    assert len(everything) > len(mine) + len(_log(env, carol)) - 1
    only_bob = _log(env, admin, user_id=bob_id)
    assert only_bob == mine
    # Paging: newest first, ``before`` continues.
    first = _log(env, admin, limit=2)
    rest = _log(env, admin, before=first[-1]["id"])
    assert [e["id"] for e in first + rest] == [e["id"] for e in everything]
    assert c.get("/api/auth/security-log", params={"limit": 0}, headers=bob).status_code == 400
    assert c.get("/api/auth/security-log").status_code == 401


def test_old_events_are_pruned_after_the_retention(env: DriveEnv) -> None:
    admin = env.register("admin")
    with env.drive.sessions.begin() as db:
        old = security_log.record(db, security_log.Kind.KEYS_REWRAPPED, rewrapped=0)
        old.at = utcnow() - timedelta(days=env.settings.drive_security_log_retention_days + 1)
    before = {e["kind"] for e in _log(env, admin)}
    assert "keys.rewrapped" in before
    signin.housekeeping(env.drive)
    after = {e["kind"] for e in _log(env, admin)}
    assert after == before - {"keys.rewrapped"}
