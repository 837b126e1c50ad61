"""The catalog record format, version 1: the golden vector in ``tests/drive/vectors/
catalog_v1.json`` read by the code and rebuilt from ``docs/drive-format.md`` with bare
HMAC / HKDF / AES-GCM, and the value codec's round trip."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cordvault.crypto import MasterKeyring
from cordvault.drive.catalog import tables as tbl
from cordvault.drive.catalog.records import CatalogDamaged, CatalogKeys, open_head, parse_body

VECTOR = json.loads((Path(__file__).parent / "vectors" / "catalog_v1.json").read_text())


def _hkdf(master: bytes, purpose: str) -> bytes:
    info = b"cordvault/v1/" + purpose.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def test_the_code_reads_the_golden_vector() -> None:
    keys = CatalogKeys(MasterKeyring(base64.b64decode(VECTOR["master_key"])))
    name = VECTOR["name"]
    assert keys.new_name(bytes.fromhex(VECTOR["name_nonce"])) == name
    assert keys.is_head_name(name)
    assert not keys.is_head_name(name[:-1] + ("0" if name[-1] != "0" else "1"))
    header, inline = open_head(keys, name, bytes.fromhex(VECTOR["head"]))
    assert {k: getattr(header, k) for k in VECTOR["header"]} == VECTOR["header"]
    assert list(parse_body(inline)) == VECTOR["lines"]
    tampered = bytearray(bytes.fromhex(VECTOR["head"]))
    tampered[-1] ^= 1
    with pytest.raises(CatalogDamaged):
        open_head(keys, name, bytes(tampered))
    with pytest.raises(CatalogDamaged):  # a head renamed does not authenticate
        open_head(keys, keys.new_name(b"\0" * 8), bytes.fromhex(VECTOR["head"]))


def test_the_document_alone_rebuilds_the_golden_vector() -> None:
    master = base64.b64decode(VECTOR["master_key"])
    name_key = _hkdf(master, "drive-catalog-name")
    nonce = bytes.fromhex(VECTOR["name_nonce"])
    tag = hmac.new(name_key, b"CVCT" + nonce, hashlib.sha256).digest()[:8]
    assert (nonce + tag).hex() == VECTOR["name"]
    sealed = bytes.fromhex(VECTOR["head"])
    assert sealed[:5] == b"CVCK\x01"
    file_id = ("cvcat-head:" + VECTOR["name"]).encode()
    aad = b"CVCK\x01" + struct.pack(">QQQBH", 1, 0, 0, 0x03, len(file_id)) + file_id
    plain = AESGCM(_hkdf(master, "drive-catalog-record")).decrypt(sealed[5:17], sealed[17:], aad)
    assert plain[:5] == b"CVCT\x01"
    (length,) = struct.unpack(">I", plain[5:9])
    header = json.loads(plain[9 : 9 + length])
    assert {k: header[k] for k in VECTOR["header"]} == VECTOR["header"]
    body = plain[9 + length :]
    assert header["body_sha256"] == hashlib.sha256(body).hexdigest()
    text = zlib.decompress(body, 31).decode()
    assert [json.loads(line) for line in text.splitlines()] == VECTOR["lines"]


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        7,
        1.5,
        "text",
        b"\x00\xff",
        datetime(2026, 12, 1, 10, tzinfo=UTC),
        datetime(2026, 12, 1, 10),
        date(2026, 12, 1),
        Decimal("1.10"),
        UUID(int=5),
        {"a": [1]},
        [1, "x"],
    ],
)
def test_values_round_trip(value: object) -> None:
    encoded = tbl.encode_value(value)
    assert json.loads(json.dumps(encoded)) == encoded
    assert tbl.decode_value(encoded) == value


def test_unknown_tags_and_non_finite_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown value tag"):
        tbl.decode_value({"nope": 1})
    with pytest.raises(ValueError, match="non-finite"):
        tbl.encode_value(float("nan"))
