"""Key hierarchy: key values, wrap/unwrap, rotation, wrong keys, golden vectors.

Failures are :mod:`cordvault.crypto.errors` types here; each is also checked to translate to the
``CordvaultError`` code the drive reports (:func:`cordvault.drive.keys.crypto_error`). Reading
the keys from the settings is the drive's: ``tests/drive/test_master_keys.py``.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from cordvault.core.errors import ErrorCode
from cordvault.crypto import (
    WRAPPED_KEY_SIZE,
    DecryptionFailed,
    InvalidKey,
    MasterKeyring,
    decode_master_key,
    new_file_key,
    rewrap_file_key,
    unwrap_file_key,
    wrap_file_key,
    wrapped_key_id,
)
from cordvault.crypto.keys import _wrap
from cordvault.drive.keys import crypto_error

VECTORS = json.loads((Path(__file__).parent / "vectors" / "wrap_v1.json").read_text())


def _b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_golden_wrapped_keys(case: dict[str, str]) -> None:
    ring = MasterKeyring.from_base64(case["master_key_base64"])
    assert ring.current_id == case["key_id"]
    file_key = bytes.fromhex(case["file_key"])
    nonce = bytes.fromhex(case["nonce"])
    wrapped = _wrap(ring, file_key, case["file_id"], lambda n: nonce)
    assert wrapped.hex() == case["wrapped"]
    assert unwrap_file_key(ring, bytes.fromhex(case["wrapped"]), case["file_id"]) == file_key
    assert wrapped_key_id(wrapped) == case["key_id"]


BAD_VALUES = [
    "",
    "not base64 at all!",
    base64.b64encode(b"x" * 31).decode(),
    base64.b64encode(b"x" * 33).decode(),
    base64.b64encode(b"x" * 32).decode()[:-3] + "@@=",
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_master_key_is_invalid_key_without_the_value(value: str) -> None:
    with pytest.raises(InvalidKey) as err:
        MasterKeyring.from_base64(value)
    assert err.value.role == "current"
    assert not value or value not in err.value.message
    assert crypto_error(err.value).code == ErrorCode.INVALID_SETTINGS
    with pytest.raises(InvalidKey):
        decode_master_key(value)


def test_bad_old_key_is_reported_as_an_old_key() -> None:
    with pytest.raises(InvalidKey) as err:
        MasterKeyring.from_base64(_b64key(), ["short"])
    assert err.value.role == "old"
    assert crypto_error(err.value).code == ErrorCode.INVALID_SETTINGS


def test_base64_variants_are_accepted() -> None:
    raw = bytes(range(200, 232))
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    a = MasterKeyring.from_base64(std)
    b = MasterKeyring.from_base64(f"  {url}\n")
    assert a.current_id == b.current_id
    assert len(a.current_id) == 16


def test_wrap_unwrap_round_trip_and_binding() -> None:
    ring = MasterKeyring.from_base64(_b64key())
    file_key = new_file_key()
    assert len(file_key) == 32
    assert file_key != new_file_key()
    wrapped = wrap_file_key(ring, file_key, "file-1")
    assert len(wrapped) == WRAPPED_KEY_SIZE == 73
    assert file_key not in wrapped
    assert wrap_file_key(ring, file_key, "file-1") != wrapped  # fresh nonce
    assert unwrap_file_key(ring, wrapped, "file-1") == file_key
    for bad_file in ["file-2", "file-1 ", ""]:
        with pytest.raises(DecryptionFailed) as err:
            unwrap_file_key(ring, wrapped, bad_file)
        assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR


@pytest.mark.parametrize("pos", [0, 4, 5, 12, 13, 25, 40, WRAPPED_KEY_SIZE - 1])
def test_tampered_wrapped_key_is_an_integrity_error(pos: int) -> None:
    ring = MasterKeyring.from_base64(_b64key())
    wrapped = bytearray(wrap_file_key(ring, new_file_key(), "f"))
    wrapped[pos] ^= 0x01
    with pytest.raises(DecryptionFailed) as err:
        unwrap_file_key(ring, bytes(wrapped), "f")
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR


@pytest.mark.parametrize("junk", [b"", b"CVWK", b"x" * WRAPPED_KEY_SIZE])
def test_malformed_wrapped_key(junk: bytes) -> None:
    ring = MasterKeyring.from_base64(_b64key())
    with pytest.raises(DecryptionFailed) as err:
        unwrap_file_key(ring, junk, "f")
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR


def test_wrong_master_key_cannot_unwrap() -> None:
    right, wrong = _b64key(), _b64key()
    wrapped = wrap_file_key(MasterKeyring.from_base64(right), new_file_key(), "f")
    with pytest.raises(DecryptionFailed) as err:
        unwrap_file_key(MasterKeyring.from_base64(wrong), wrapped, "f")
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    assert right not in err.value.message
    assert wrong not in err.value.message


def test_rotation_rewrap_then_retire_the_old_key() -> None:
    old_value, new_value = _b64key(), _b64key()
    old_ring = MasterKeyring.from_base64(old_value)
    file_key = new_file_key()
    wrapped = wrap_file_key(old_ring, file_key, "f")
    assert wrapped_key_id(wrapped) == old_ring.current_id

    # step 1: new key current, old key still accepted
    during = MasterKeyring.from_base64(new_value, [old_value])
    assert during.key_ids == (during.current_id, old_ring.current_id)
    assert unwrap_file_key(during, wrapped, "f") == file_key
    rewrapped = rewrap_file_key(during, during, wrapped, "f")
    assert wrapped_key_id(rewrapped) == during.current_id != old_ring.current_id

    # step 2: old key retired; the rewrapped key works, the old-only keyring cannot read it
    after = MasterKeyring.from_base64(new_value)
    assert unwrap_file_key(after, rewrapped, "f") == file_key
    with pytest.raises(DecryptionFailed) as err:
        unwrap_file_key(old_ring, rewrapped, "f")
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    with pytest.raises(DecryptionFailed):
        unwrap_file_key(after, wrapped, "f")  # a row the rotation missed is not readable
    # rewrap with separate keyrings gives the same result
    assert unwrap_file_key(after, rewrap_file_key(old_ring, after, wrapped, "f"), "f") == file_key


def test_keys_stay_out_of_repr() -> None:
    value = _b64key()
    ring = MasterKeyring.from_base64(value)
    assert value not in repr(ring)
    assert ring.current_id in repr(ring)


def test_derived_subkeys_are_independent() -> None:
    ring = MasterKeyring.from_base64(_b64key())
    a, b = ring.derive_key("link-token"), ring.derive_key("other")
    assert len(a) == 32
    assert a != b
    assert a == ring.derive_key("link-token")
    with pytest.raises(ValueError, match="reserved"):
        ring.derive_key("file-key-wrap")
