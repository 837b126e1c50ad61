from __future__ import annotations

from tests.drive.support import DriveEnv, random_bytes


def test_upload_and_download_roundtrip(env: DriveEnv) -> None:
    admin = env.register()
    data = random_bytes(200_000)
    f = env.put(admin, "/a.bin", data)
    assert f["size"] == len(data)
    assert env.get(admin, f["id"]) == data
