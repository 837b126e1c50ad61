from __future__ import annotations

from tests.drive.support import DriveEnv, random_bytes


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
