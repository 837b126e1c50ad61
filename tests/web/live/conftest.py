"""Fixtures of the live tests: a drive app (drive + live domains) served by a real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.live_server import Socket, serving

from cordvault.core.settings import Settings
from cordvault.web.app import create_app

PASSWORD = "correct horse battery"
DOMAINS = ("cordvault.web.drive", "cordvault.web.live")


def live_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "drive_chunk_size": 64 * 1024,
        "drive_gc_interval_seconds": 3600,
        "storage_backend": "local",
        "preview_poll_seconds": 0.5,
        "broker_url": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from cordvault.drive import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


class Live:
    """A served app plus helpers: accounts (REST) and sockets."""

    def __init__(self, base: str, app: Any) -> None:
        self.base = base
        self.app = app
        self.http = httpx.Client(base_url=base, timeout=30)
        self.sockets: list[Socket] = []

    def token(self, name: str, admin: str | None = None) -> str:
        if admin is None:
            r = self.http.post("/api/auth/register", json={"name": name, "password": PASSWORD})
        else:
            r = self.http.post(
                "/api/auth/users",
                json={"name": name, "password": PASSWORD},
                headers=self.auth(admin),
            )
            assert r.status_code == 201, r.text
            r = self.http.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert r.status_code in (200, 201), r.text
        token: str = r.json()["token"]
        return token

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def socket(self, token: str | None = None) -> Socket:
        sock = Socket(self.base)
        self.sockets.append(sock)
        if token is not None:
            reply = sock.auth(token)
            assert reply["id"] == "s2c:auth-ok", reply
        return sock

    def put(self, token: str, path: str, data: bytes) -> dict[str, Any]:
        r = self.http.put(
            "/api/drive/upload", params={"path": path}, content=data, headers=self.auth(token)
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()["file"]
        return body

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.http.close()


@pytest.fixture
def make_live(db_url: str, data_dir: Path) -> Iterator[Callable[..., Live]]:
    stack: list[Any] = []

    def make(**overrides: Any) -> Live:
        app = create_app(live_settings(db_url, data_dir, **overrides), domains=DOMAINS)
        cm = serving(app)
        base = cm.__enter__()
        live = Live(base, app)
        stack.append((cm, live))
        return live

    yield make
    for cm, live in reversed(stack):
        live.close()
        cm.__exit__(None, None, None)
