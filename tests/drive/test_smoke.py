from __future__ import annotations

import logging

import pytest
from tests.drive.support import PASSWORD, DriveEnv, random_bytes


def test_upload_and_download_roundtrip(env: DriveEnv) -> None:
    admin = env.register()
    data = random_bytes(200_000)
    f = env.put(admin, "/a.bin", data)
    assert f["size"] == len(data)
    assert env.get(admin, f["id"]) == data


def test_openapi_lists_the_drive_routes(env: DriveEnv) -> None:
    schema = env.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/auth/login",
        "/api/drive/uploads/{upload_id}/chunks/{index}",
        "/api/drive/files/{file_id}/content",
        "/api/drive/dl/{token}",
        "/api/drive/folders/{folder_id}/zip",
    ):
        assert path in paths, path


def test_no_secret_reaches_the_server_logs(env: DriveEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = env.register()
    token = admin["Authorization"].split()[1]
    f = env.put(admin, "/secret name.txt", b"x" * 10)
    link = env.client.post(f"/api/drive/files/{f['id']}/links", json={}, headers=admin).json()
    env.client.get(f"/api/drive/dl/{link['token']}")
    env.client.get(f"/api/drive/dl/{link['token'][:-2]}xx")  # a forged one: error path
    env.client.post("/api/auth/login", json={"name": "admin", "password": "wrong " + PASSWORD})
    env.client.get("/api/auth/me", headers={"Authorization": "Bearer " + token[:-3] + "abc"})
    server_lines = [
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    text = "\n".join(server_lines)
    for secret in (PASSWORD, token, link["token"], "secret name.txt"):
        assert secret not in text
