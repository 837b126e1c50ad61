"""Sign-in through a real uvicorn server and real sockets: loopback gives distinct clients
(127.0.0.2 the attacker, 127.0.0.3 the owner). One economical round trip, on SQLite and
PostgreSQL: the attack, forged ``X-Forwarded-For``, the operator's and the user's CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.drive.conftest import drive_settings
from tests.drive.support import PASSWORD
from tests.drive.test_cli import _Cli, _Server
from tests.support.live_server import serving

from cordvault.cli.server import uvicorn_options
from cordvault.web.app import create_app


@pytest.fixture
def server(db_url: str, data_dir: Path) -> Iterator[_Server]:
    settings = drive_settings(
        db_url,
        data_dir,
        drive_login_base_delay_seconds=0.05,
        drive_login_max_delay_seconds=0.4,
    )
    app = create_app(settings, domains=("cordvault.web.drive",))
    with serving(app, **{**uvicorn_options(settings), "log_level": "critical"}) as url:
        yield _Server(url, app.state.services.drive)


@pytest.fixture
def cli(db_url: str, data_dir: Path, tmp_path: Path) -> _Cli:
    return _Cli(db_url, data_dir, tmp_path / "home")


def _client(server: _Server, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30)


def _login(client: httpx.Client, password: str, **headers: str) -> httpx.Response:
    body = {"name": "admin", "password": password}
    return client.post("/api/auth/login", json=body, headers=headers)


def test_attack_from_one_loopback_address_never_stops_the_owner(server: _Server, cli: _Cli) -> None:
    cli("user", "create", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    attacker, owner = _client(server, "127.0.0.2"), _client(server, "127.0.0.3")
    answers: list[httpx.Response] = []

    def attack() -> None:
        for i in range(100):
            answers.append(_login(attacker, f"guess {i}"))

    thread = threading.Thread(target=attack)
    thread.start()
    owner_answers = []
    while thread.is_alive():  # the owner signs in again and again during the attack
        started = time.monotonic()
        owner_answers.append((_login(owner, PASSWORD).status_code, time.monotonic() - started))
    thread.join()
    assert owner_answers
    assert all(code == 200 for code, _ in owner_answers)
    assert max(took for _, took in owner_answers) < 5
    codes = [r.status_code for r in answers]
    assert set(codes) == {401, 429}
    assert codes.count(429) > 50
    token = _login(owner, PASSWORD).json()["token"]
    admin = {"Authorization": f"Bearer {token}"}

    def failures() -> list[dict[str, Any]]:
        params = {"kind": "signin.failure", "limit": 1000}
        rows = owner.get("/api/auth/security-log", params=params, headers=admin).json()
        return list(reversed(rows))

    seen = failures()
    assert {e["client_address"] for e in seen} == {"127.0.0.2"}
    delays = [e["detail"].get("delay_ms", 0) for e in seen]
    assert delays[:4] == [0, 0, 50, 100]
    assert delays == sorted(delays)

    # A forged X-Forwarded-For (from 127.0.0.1, which uvicorn alone would trust) is not
    # believed: the failures count against the real peer, never against the owner's address.
    forger = _client(server, "127.0.0.1")
    for _ in range(3):
        assert _login(forger, "forged", **{"X-Forwarded-For": "127.0.0.3"}).status_code == 401
    assert {e["client_address"] for e in failures()[len(seen) :]} == {"127.0.0.1"}
    assert _login(owner, PASSWORD).status_code == 200

    # The operator's unlock (its effect under a long delay: test_signin.py).
    assert "cleared" in cli("user", "unlock", "admin").stdout
    assert _login(attacker, PASSWORD).status_code == 200
    listed = cli("user", "sessions", "admin").stdout
    assert "127.0.0.3" in listed
    assert "127.0.0.2" in listed
    assert "signin.unlocked" in cli("user", "log", "--kind", "signin.unlocked").stdout

    # The user's own CLI: sessions (this one marked), the log, revoke the others, logout.
    cli("drive", "login", server.url, "--name", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert "* " in cli("drive", "sessions").stdout
    assert "signin.success" in cli("drive", "log", "--limit", "5").stdout
    assert "revoked" in cli("drive", "revoke", "--all").stdout
    assert owner.get("/api/auth/me", headers=admin).status_code == 401
    cli("drive", "logout")
    gone = cli("drive", "sessions", ok=False)
    assert (gone.returncode, "UNAUTHORIZED" in gone.stderr) == (4, True)
    # The operator revokes everything of an account.
    token = _login(owner, PASSWORD).json()["token"]
    assert "revoked 1 session" in cli("user", "revoke", "admin").stdout
    assert (
        owner.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    for c in (attacker, owner, forger):
        c.close()
