"""Key hierarchy: settings parsing, wrap/unwrap, rotation, wrong keys, golden vectors."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import redact
from cordvault.core.settings import load_settings
from cordvault.crypto import (
    WRAPPED_KEY_SIZE,
    MasterKeyring,
    new_file_key,
    rewrap_file_key,
    unwrap_file_key,
    wrap_file_key,
    wrapped_key_id,
)
from cordvault.crypto.keys import _wrap

VECTORS = json.loads((Path(__file__).parent / "vectors" / "wrap_v1.json").read_text())


def _b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_golden_wrapped_keys(case: dict[str, str]) -> None:
    ring = MasterKeyring.from_settings_value(case["master_key_base64"])
    assert ring.current_id == case["key_id"]
    file_key = bytes.fromhex(case["file_key"])
    nonce = bytes.fromhex(case["nonce"])
    wrapped = _wrap(ring, file_key, case["file_id"], lambda n: nonce)
    assert wrapped.hex() == case["wrapped"]
    assert unwrap_file_key(ring, bytes.fromhex(case["wrapped"]), case["file_id"]) == file_key
    assert wrapped_key_id(wrapped) == case["key_id"]


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
        MasterKeyring.from_settings_value(value)
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "MESSAGE_ENCRYPTION_KEY" in err.value.message
    assert not value or value not in err.value.message
    assert err.value.details == {"names": ["MESSAGE_ENCRYPTION_KEY"]}


def test_bad_old_key_names_the_old_keys_variable() -> None:
    with pytest.raises(CordvaultError) as err:
        MasterKeyring.from_settings_value(_b64key(), ["short"])
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "MESSAGE_ENCRYPTION_OLD_KEYS" in err.value.message


def test_base64_variants_are_accepted() -> None:
    raw = bytes(range(200, 232))
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    a = MasterKeyring.from_settings_value(std)
    b = MasterKeyring.from_settings_value(f"  {url}\n")
    assert a.current_id == b.current_id
    assert len(a.current_id) == 16


def test_wrap_unwrap_round_trip_and_binding() -> None:
    ring = MasterKeyring.from_settings_value(_b64key())
    file_key = new_file_key()
    assert len(file_key) == 32
    assert file_key != new_file_key()
    wrapped = wrap_file_key(ring, file_key, "file-1")
    assert len(wrapped) == WRAPPED_KEY_SIZE == 73
    assert file_key not in wrapped
    assert wrap_file_key(ring, file_key, "file-1") != wrapped  # fresh nonce
    assert unwrap_file_key(ring, wrapped, "file-1") == file_key
    for bad_file in ["file-2", "file-1 ", ""]:
        with pytest.raises(CordvaultError) as err:
            unwrap_file_key(ring, wrapped, bad_file)
        assert err.value.code == ErrorCode.INTEGRITY_ERROR


@pytest.mark.parametrize("pos", [0, 4, 5, 12, 13, 25, 40, WRAPPED_KEY_SIZE - 1])
def test_tampered_wrapped_key_is_an_integrity_error(pos: int) -> None:
    ring = MasterKeyring.from_settings_value(_b64key())
    wrapped = bytearray(wrap_file_key(ring, new_file_key(), "f"))
    wrapped[pos] ^= 0x01
    with pytest.raises(CordvaultError) as err:
        unwrap_file_key(ring, bytes(wrapped), "f")
    assert err.value.code == ErrorCode.INTEGRITY_ERROR


@pytest.mark.parametrize("junk", [b"", b"CVWK", b"x" * WRAPPED_KEY_SIZE])
def test_malformed_wrapped_key(junk: bytes) -> None:
    ring = MasterKeyring.from_settings_value(_b64key())
    with pytest.raises(CordvaultError) as err:
        unwrap_file_key(ring, junk, "f")
    assert err.value.code == ErrorCode.INTEGRITY_ERROR


def test_wrong_master_key_cannot_unwrap() -> None:
    right, wrong = _b64key(), _b64key()
    wrapped = wrap_file_key(MasterKeyring.from_settings_value(right), new_file_key(), "f")
    with pytest.raises(CordvaultError) as err:
        unwrap_file_key(MasterKeyring.from_settings_value(wrong), wrapped, "f")
    assert err.value.code == ErrorCode.INTEGRITY_ERROR
    assert right not in err.value.message
    assert wrong not in err.value.message


def test_rotation_rewrap_then_retire_the_old_key() -> None:
    old_value, new_value = _b64key(), _b64key()
    old_ring = MasterKeyring.from_settings_value(old_value)
    file_key = new_file_key()
    wrapped = wrap_file_key(old_ring, file_key, "f")
    assert wrapped_key_id(wrapped) == old_ring.current_id

    # step 1: new key current, old key still accepted
    during = MasterKeyring.from_settings_value(new_value, [old_value])
    assert during.key_ids == (during.current_id, old_ring.current_id)
    assert unwrap_file_key(during, wrapped, "f") == file_key
    rewrapped = rewrap_file_key(during, during, wrapped, "f")
    assert wrapped_key_id(rewrapped) == during.current_id != old_ring.current_id

    # step 2: old key retired; the rewrapped key works, the old-only keyring cannot read it
    after = MasterKeyring.from_settings_value(new_value)
    assert unwrap_file_key(after, rewrapped, "f") == file_key
    with pytest.raises(CordvaultError) as err:
        unwrap_file_key(old_ring, rewrapped, "f")
    assert err.value.code == ErrorCode.INTEGRITY_ERROR
    with pytest.raises(CordvaultError):
        unwrap_file_key(after, wrapped, "f")  # a row the rotation missed is not readable
    # rewrap with separate keyrings gives the same result
    assert unwrap_file_key(after, rewrap_file_key(old_ring, after, wrapped, "f"), "f") == file_key


def test_from_settings_and_old_keys_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    old_value, new_value = _b64key(), _b64key()
    monkeypatch.setenv("MESSAGE_ENCRYPTION_KEY", new_value)
    monkeypatch.setenv("MESSAGE_ENCRYPTION_OLD_KEYS", f"{old_value}, ")
    ring = MasterKeyring.from_settings(load_settings())
    old_ring = MasterKeyring.from_settings_value(old_value)
    assert ring.key_ids[1:] == (old_ring.current_id,)
    monkeypatch.delenv("MESSAGE_ENCRYPTION_KEY")
    with pytest.raises(CordvaultError) as err:
        MasterKeyring.from_settings(load_settings())
    assert err.value.code == ErrorCode.MISSING_SETTINGS


def test_keys_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    value = _b64key()
    ring = MasterKeyring.from_settings_value(value)
    assert value not in repr(ring)
    assert ring.current_id in repr(ring)
    assert redact(f"key is {value}") == "key is [redacted]"
    with caplog.at_level(logging.INFO):
        logging.getLogger("cordvault.test").info("ring %r", ring)
    assert value not in caplog.text


def test_derived_subkeys_are_independent() -> None:
    ring = MasterKeyring.from_settings_value(_b64key())
    a, b = ring.derive_key("link-token"), ring.derive_key("other")
    assert len(a) == 32
    assert a != b
    assert a == ring.derive_key("link-token")
    with pytest.raises(ValueError, match="reserved"):
        ring.derive_key("file-key-wrap")
