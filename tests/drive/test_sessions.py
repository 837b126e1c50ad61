"""Sessions: list one's tokens (created, last used, client), revoke one or all, admins revoke
a user's; revocation takes effect on the next request. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from tests.drive.support import PASSWORD, DriveEnv, auth

from cordvault.drive.auth import issue_token, session_alive
from cordvault.drive.clients import ClientInfo
from cordvault.drive.models import DriveUser, SignInSession, utcnow


def _login_from(env: DriveEnv, address: str, name: str, agent: str) -> dict[str, str]:
    r = env.from_address(address).post(
        "/api/auth/login",
        json={"name": name, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert r.status_code == 200, r.text
    return auth(r.json()["token"])


def test_list_and_revoke_ones_sessions(env: DriveEnv) -> None:
    admin = env.register("admin")
    env.add_user(admin, "bob")
    laptop = _login_from(env, "127.0.0.2", "bob", "laptop-cli/1.0")
    phone = _login_from(env, "127.0.0.3", "bob", "phone/2.0")
    tablet = _login_from(env, "127.0.0.4", "bob", "tablet/3.0")
    c = env.client
    listed = c.get("/api/auth/sessions", headers=laptop).json()
    by_agent = {s["user_agent"]: s for s in listed}
    assert set(by_agent) >= {"laptop-cli/1.0", "phone/2.0", "tablet/3.0"}
    assert by_agent["phone/2.0"]["client_address"] == "127.0.0.3"
    assert by_agent["laptop-cli/1.0"]["current"] is True
    assert by_agent["phone/2.0"]["current"] is False
    assert {"created_at", "last_used_at", "expires_at", "kind"} <= set(by_agent["phone/2.0"])
    assert laptop["Authorization"][7:] not in str(listed)
    # Revoke the phone: its very next request is refused; the others keep working.
    phone_id = by_agent["phone/2.0"]["id"]
    assert c.delete(f"/api/auth/sessions/{phone_id}", headers=laptop).status_code == 204
    assert c.get("/api/auth/me", headers=phone).status_code == 401
    assert c.get("/api/auth/me", headers=tablet).status_code == 200
    assert c.delete(f"/api/auth/sessions/{phone_id}", headers=laptop).status_code == 404
    # Another user's session id: the same 404 as an unknown one.
    admin_sid = c.get("/api/auth/sessions", headers=admin).json()[0]["id"]
    assert c.delete(f"/api/auth/sessions/{admin_sid}", headers=laptop).status_code == 404
    assert c.delete("/api/auth/sessions/nope", headers=laptop).status_code == 404
    # All but the current one, then logout.
    r = c.delete("/api/auth/sessions", params={"keep_current": "true"}, headers=laptop)
    assert r.json()["revoked"] >= 2  # the tablet and add_user's login
    assert c.get("/api/auth/me", headers=tablet).status_code == 401
    assert [s["current"] for s in c.get("/api/auth/sessions", headers=laptop).json()] == [True]
    assert c.post("/api/auth/logout", headers=laptop).status_code == 204
    assert c.get("/api/auth/me", headers=laptop).status_code == 401
    assert c.get("/api/auth/me", headers=admin).status_code == 200


def test_sessions_opened_within_one_second_list_newest_first(env: DriveEnv) -> None:
    """Two browsers and a CLI signing in within a second still list newest first (the order
    once fell back to the random session id when creation times were rounded to the second)."""
    admin = env.register("admin")
    opened = []
    for n in range(6):
        with env.drive.sessions.begin() as db:
            user = db.scalars(select(DriveUser).where(DriveUser.name == "admin")).one()
            client = ClientInfo("127.0.0.9", f"client-{n}")
            opened.append(issue_token(env.drive, db, user, client).session_id)
    listed = [s["id"] for s in env.client.get("/api/auth/sessions", headers=admin).json()]
    assert listed[:6] == opened[::-1]


def test_admin_revokes_a_users_sessions_others_may_not(env: DriveEnv) -> None:
    admin = env.register("admin")
    bob = env.add_user(admin, "bob")
    carol = env.add_user(admin, "carol")
    c = env.client
    bob_id = c.get("/api/auth/me", headers=bob).json()["id"]
    assert c.get(f"/api/auth/users/{bob_id}/sessions", headers=carol).status_code == 403
    assert c.delete(f"/api/auth/users/{bob_id}/sessions", headers=carol).status_code == 403
    assert c.get(f"/api/auth/users/{bob_id}/sessions", headers=bob).status_code == 200
    listed = c.get(f"/api/auth/users/{bob_id}/sessions", headers=admin).json()
    assert len(listed) == 1
    r = c.delete(f"/api/auth/users/{bob_id}/sessions", headers=admin)
    assert r.json() == {"revoked": 1}
    assert c.get("/api/auth/me", headers=bob).status_code == 401
    assert c.get("/api/auth/me", headers=carol).status_code == 200
    assert c.get("/api/auth/users/999/sessions", headers=admin).status_code == 404


def test_last_use_and_client_are_noted_and_ended_sessions_leave_the_list(env: DriveEnv) -> None:
    admin = env.register("admin")
    token = _login_from(env, "127.0.0.2", "admin", "cli")
    sid = next(
        s["id"] for s in env.client.get("/api/auth/sessions", headers=token).json() if s["current"]
    )
    # Pretend the session was last used long ago: the next request notes the time and client.
    long_ago = utcnow() - timedelta(hours=2)
    with env.drive.sessions.begin() as db:
        db.execute(
            update(SignInSession).where(SignInSession.id == sid).values(last_used_at=long_ago)
        )
    assert env.from_address("127.0.0.5").get("/api/auth/me", headers=token).status_code == 200
    row = next(
        s for s in env.client.get("/api/auth/sessions", headers=admin).json() if s["id"] == sid
    )
    assert row["client_address"] == "127.0.0.2"
    assert row["last_client_address"] == "127.0.0.5"
    assert row["last_used_at"] > long_ago.isoformat()
    assert session_alive(env.drive, sid) is True
    # Expired: refused and no longer listed.
    with env.drive.sessions.begin() as db:
        db.execute(update(SignInSession).where(SignInSession.id == sid).values(expires_at=long_ago))
    assert env.client.get("/api/auth/me", headers=token).status_code == 401
    assert sid not in {s["id"] for s in env.client.get("/api/auth/sessions", headers=admin).json()}
    assert session_alive(env.drive, sid) is False


def test_password_change_ends_every_other_session(env: DriveEnv) -> None:
    env.register("admin")
    first, second = env.login("admin"), env.login("admin")
    r = env.client.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "another password"},
        headers=first,
    )
    fresh = auth(r.json()["token"])
    listed = env.client.get("/api/auth/sessions", headers=fresh).json()
    assert [s["current"] for s in listed] == [True]
    assert env.client.get("/api/auth/me", headers=second).status_code == 401
