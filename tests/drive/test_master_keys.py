"""The drive's side of the key hierarchy: master keys from the settings, and the one
translation of crypto errors into ``CordvaultError`` (:func:`cordvault.drive.keys.crypto_error`).
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import redact
from cordvault.core.settings import Settings, load_settings
from cordvault.crypto import (
    ChunkContext,
    DecryptionFailed,
    MasterKeyring,
    decrypt_chunk,
    encrypt_chunk,
    new_file_key,
    unwrap_file_key,
    wrap_file_key,
)
from cordvault.drive.keys import (
    crypto_error,
    keyring_from_settings,
    keyring_from_values,
    load_keyring,
)


def _b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 33).decode(),
        base64.b64encode(b"x" * 32).decode()[:-3] + "@@=",
    ],
)
def test_bad_master_key_names_the_variable_not_the_value(value: str) -> None:
    with pytest.raises(CordvaultError) as err:
        keyring_from_values(value)
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "MESSAGE_ENCRYPTION_KEY" in err.value.message
    assert not value or value not in err.value.message
    assert err.value.details == {"names": ["MESSAGE_ENCRYPTION_KEY"]}
    assert err.value.message == (
        "MESSAGE_ENCRYPTION_KEY must be base64 of exactly 32 random bytes "
        "(generate one with: openssl rand -base64 32)"
    )


def test_bad_old_key_names_the_old_keys_variable() -> None:
    with pytest.raises(CordvaultError) as err:
        keyring_from_values(_b64key(), ["short"])
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "MESSAGE_ENCRYPTION_OLD_KEYS" in err.value.message
    assert err.value.details == {"names": ["MESSAGE_ENCRYPTION_OLD_KEYS"]}


def test_from_settings_and_old_keys_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    old_value, new_value = _b64key(), _b64key()
    monkeypatch.setenv("MESSAGE_ENCRYPTION_KEY", new_value)
    monkeypatch.setenv("MESSAGE_ENCRYPTION_OLD_KEYS", f"{old_value}, ")
    ring = keyring_from_settings(load_settings())
    old_ring = MasterKeyring.from_base64(old_value)
    assert ring.key_ids[1:] == (old_ring.current_id,)
    monkeypatch.delenv("MESSAGE_ENCRYPTION_KEY")
    with pytest.raises(CordvaultError) as err:
        keyring_from_settings(load_settings())
    assert err.value.code == ErrorCode.MISSING_SETTINGS


def test_keys_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    value = _b64key()
    ring = keyring_from_values(value)
    assert value not in repr(ring)
    assert ring.current_id in repr(ring)
    assert redact(f"key is {value}") == "key is [redacted]"
    with caplog.at_level(logging.INFO):
        logging.getLogger("cordvault.test").info("ring %r", ring)
    assert value not in caplog.text


def test_the_local_default_master_key_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", storage_backend="local", message_encryption_key=None
    )
    first = load_keyring(settings)
    path = tmp_path / "data" / "drive_master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_keyring(settings).current_id == first.current_id
    assert redact(path.read_text().strip()) == "[redacted]"


def test_integrity_failures_translate_with_the_same_message_and_details() -> None:
    key = new_file_key()
    ctx = ChunkContext("file-x", 3, is_last=True)
    envelope = bytearray(encrypt_chunk(key, ctx, b"hello"))
    envelope[-1] ^= 1
    with pytest.raises(DecryptionFailed) as err:
        decrypt_chunk(key, ctx, bytes(envelope))
    translated = crypto_error(err.value)
    assert translated.code == ErrorCode.INTEGRITY_ERROR
    assert translated.message == "chunk 3 failed integrity check: authentication failed"
    assert translated.details == {"chunk_index": 3}

    ring = MasterKeyring.from_base64(_b64key())
    wrapped = wrap_file_key(ring, key, "a")
    with pytest.raises(DecryptionFailed) as err:
        unwrap_file_key(ring, wrapped, "b")
    translated = crypto_error(err.value)
    assert translated.code == ErrorCode.INTEGRITY_ERROR
    assert translated.message.startswith("cannot unwrap file key: authentication failed")
