"""Helpers for the drive tests: accounts, uploads and downloads through the HTTP API."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from cordvault.core.settings import Settings
from cordvault.drive.context import DriveContext
from cordvault.storage.counting import CountingChunkStore

PASSWORD = "correct horse battery"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class DriveEnv:
    client: TestClient
    drive: DriveContext
    store: CountingChunkStore
    settings: Settings

    def from_address(self, address: str) -> TestClient:
        """A client of the same app whose requests come from ``address`` (the ASGI scope's
        client: what a socket peer would be). Not entered: the app's lifespan already runs."""
        return TestClient(self.client.app, client=(address, 50000))

    def register(self, name: str = "admin") -> dict[str, str]:
        r = self.client.post("/api/auth/register", json={"name": name, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return auth(r.json()["token"])

    def add_user(
        self, admin: dict[str, str], name: str, *, is_admin: bool = False
    ) -> dict[str, str]:
        r = self.client.post(
            "/api/auth/users",
            json={"name": name, "password": PASSWORD, "is_admin": is_admin},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        return self.login(name)

    def login(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        r = self.client.post("/api/auth/login", json={"name": name, "password": password})
        assert r.status_code == 200, r.text
        return auth(r.json()["token"])

    def put(self, headers: dict[str, str], path: str, data: bytes, **params: Any) -> dict[str, Any]:
        """Streaming upload; returns the file JSON."""
        r = self.client.put(
            "/api/drive/upload", params={"path": path, **params}, content=data, headers=headers
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()["file"]
        return body

    def mkdir(self, headers: dict[str, str], path: str) -> dict[str, Any]:
        r = self.client.post("/api/drive/mkdir", params={"path": path}, headers=headers)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def get(self, headers: dict[str, str], file_id: str, **kw: Any) -> bytes:
        r = self.client.get(f"/api/drive/files/{file_id}/content", headers=headers, **kw)
        assert r.status_code in (200, 206), r.text
        return r.content


def random_bytes(n: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = ["PASSWORD", "DriveEnv", "auth", "os", "random_bytes", "sha"]
