"""Master key rotation: rewrap every file key, no chunk re-uploaded, old key then removable."""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Callable

import pytest
from tests.drive.support import DriveEnv, random_bytes

from cordvault.cli.app import main

OLD = base64.b64encode(bytes(range(32))).decode()
NEW = base64.b64encode(bytes(range(100, 132))).decode()


def _cli_rewrap(env: DriveEnv, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", env.settings.effective_database_url)
    monkeypatch.setenv("DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("MESSAGE_ENCRYPTION_KEY", NEW)
    monkeypatch.setenv("MESSAGE_ENCRYPTION_OLD_KEYS", OLD)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(["drive", "rewrap-keys"])
    assert info.value.code == 0
    return out.getvalue()


def test_rotation_rewraps_keys_without_touching_chunks(
    make_env: Callable[..., DriveEnv], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_env(message_encryption_key=OLD)
    h = first.register()
    data = random_bytes(150_000)
    f = first.put(h, "/a.bin", data)
    body = {"name": "pending.bin", "size": 3, "sha256": "0" * 64}
    pending = first.client.post("/api/drive/uploads", json=body, headers=h).json()
    # Step 1: new key current, old key still accepted.
    both = make_env(message_encryption_key=NEW, message_encryption_old_keys=OLD)
    assert both.get(h, f["id"]) == data
    # Without the old key nothing unwraps: a loud error, never wrong bytes.
    only_new = make_env(message_encryption_key=NEW)
    broken = only_new.client.get(f"/api/drive/files/{f['id']}/content", headers=h)
    assert broken.status_code == 500
    assert broken.json()["errorMessageCode"] == "INTEGRITY_ERROR"
    # Step 2, through the CLI.
    chunk_files = sorted((first.settings.data_dir / "chunks").rglob("*"))
    assert "rewrapped 2 file keys (0 already under the current key)" in _cli_rewrap(
        first, monkeypatch
    )
    assert "rewrapped 0 file keys (2 already" in _cli_rewrap(first, monkeypatch)
    assert sorted((first.settings.data_dir / "chunks").rglob("*")) == chunk_files
    # Step 3: the old key is gone and everything still opens.
    assert only_new.get(h, f["id"]) == data
    chunk = only_new.client.put(
        f"/api/drive/uploads/{pending['id']}/chunks/0", content=b"abc", headers=h
    )
    assert chunk.status_code == 200
