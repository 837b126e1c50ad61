"""The encrypted blob codec: golden vectors, client compatibility, integrity, containers."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import hmac
import json
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.blob import (
    BLOB_VERSION,
    BLOCK_SIZE,
    BlobMeta,
    decrypt_blob,
    encrypt_blob,
    gzip_file,
    read_container,
    write_container,
)
from cordvault.insights.jobs.package_links import package_id_for

VECTORS = json.loads((Path(__file__).parent / "vectors" / "blob-v1.json").read_text())
UPN = VECTORS["upn"]
OTHER_UPN = UPN[:-1] + ("A" if UPN[-1] != "A" else "B")


def _reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256 written out from the RFC, independent of the codec's library."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _client_decrypt(ciphertext: bytes, iv_hex: str, upn: str) -> bytes:
    """What the Dumpus client does: AES-256-CBC, key SHA-256(UPN), IV from hex, PKCS7."""
    key = hashlib.sha256(upn.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(iv_hex))).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_golden_vectors(tmp_path: Path, vector: dict[str, str]) -> None:
    payload = tmp_path / "payload.gz"
    payload.write_bytes(bytes.fromhex(vector["plaintext_gzip"]))
    ct = tmp_path / "blob.bin"

    meta = encrypt_blob(payload, ct, UPN, iv=bytes.fromhex(vector["iv"]))

    assert ct.read_bytes().hex() == vector["ciphertext"]
    assert meta.version == VECTORS["version"] == BLOB_VERSION
    assert meta.iv.hex() == vector["iv"]
    assert meta.mac.hex() == vector["mac"]
    assert meta.key_check.hex() == vector["key_check"]
    out = tmp_path / "out.gz"
    decrypt_blob(ct, meta, UPN, out)
    assert out.read_bytes().hex() == vector["plaintext_gzip"]


def test_vectors_match_an_independent_reference() -> None:
    """The vector file itself agrees with the spec computed from first principles."""
    material = UPN.encode("utf-8")
    salt = VECTORS["hkdf_salt"].encode()
    mac_key = _reference_hkdf(material, salt, VECTORS["info_mac"].encode(), 32)
    assert len(UPN) >= 500
    assert (
        package_id_for(UPN)
        == VECTORS["package_id"]
        == hashlib.md5(material, usedforsecurity=False).hexdigest()
    )
    assert VECTORS["enc_key"] == hashlib.sha256(material).hexdigest()
    assert VECTORS["mac_key"] == mac_key.hex()
    for vector in VECTORS["vectors"]:
        ct = bytes.fromhex(vector["ciphertext"])
        iv = bytes.fromhex(vector["iv"])
        assert _client_decrypt(ct, vector["iv"], UPN).hex() == vector["plaintext_gzip"]
        expected_mac = hmac.new(mac_key, bytes([1]) + iv + ct, hashlib.sha256).hexdigest()
        assert vector["mac"] == expected_mac
        key_check = _reference_hkdf(material, salt, VECTORS["info_key_check"].encode(), 16)
        assert vector["key_check"] == key_check.hex()


def test_client_can_decrypt_gunzip_and_open_the_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "insights.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE guilds (guild_id TEXT PRIMARY KEY, guild_name TEXT)")
        conn.executemany(
            "INSERT INTO guilds VALUES (?, ?)", [(str(i), f"server {i}") for i in range(5000)]
        )
    conn.close()
    gz = tmp_path / "insights.sqlite.gz"
    gzip_file(db, gz)
    ct = tmp_path / "blob"
    meta = encrypt_blob(gz, ct, UPN)

    # Only the raw ciphertext and the hex IV, exactly what the client receives.
    plain = _client_decrypt(ct.read_bytes(), meta.iv.hex(), UPN)
    restored = tmp_path / "client.sqlite"
    restored.write_bytes(gzip.decompress(plain))
    with sqlite3.connect(restored) as conn:
        rows = conn.execute("SELECT count(*), max(guild_name) FROM guilds").fetchone()
    conn.close()
    assert rows == (5000, "server 999")
    assert restored.read_bytes() == db.read_bytes()


def test_gzip_file_is_deterministic_and_real_gzip(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    gzip_file(src, a)
    gzip_file(src, b)
    data = a.read_bytes()
    assert data == b.read_bytes()
    assert data[:2] == b"\x1f\x8b"  # gzip magic, not a zlib stream
    assert data[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert data[3] & 0x08 == 0  # FNAME flag unset: no file name in the header
    assert gzip.decompress(data) == src.read_bytes()


def test_random_iv_per_blob(tmp_path: Path) -> None:
    gz = tmp_path / "p.gz"
    gz.write_bytes(b"same payload")
    m1 = encrypt_blob(gz, tmp_path / "c1", UPN)
    m2 = encrypt_blob(gz, tmp_path / "c2", UPN)
    assert m1.iv != m2.iv
    assert (tmp_path / "c1").read_bytes() != (tmp_path / "c2").read_bytes()
    assert m1.key_check == m2.key_check  # depends on the key only


def _blob(tmp_path: Path, size: int = 3 * BLOCK_SIZE + 5) -> tuple[Path, BlobMeta]:
    gz = tmp_path / "payload.gz"
    gz.write_bytes(bytes((i * 7) % 251 for i in range(size)))
    ct = tmp_path / "blob.bin"
    return ct, encrypt_blob(gz, ct, UPN)


def test_large_round_trip_across_block_boundaries(tmp_path: Path) -> None:
    ct, meta = _blob(tmp_path)
    out = tmp_path / "out.gz"
    decrypt_blob(ct, meta, UPN, out)
    assert out.read_bytes() == (tmp_path / "payload.gz").read_bytes()
    assert ct.stat().st_size == (3 * BLOCK_SIZE + 5) // 16 * 16 + 16


def test_wrong_key_is_wrong_key_and_writes_nothing(tmp_path: Path) -> None:
    ct, meta = _blob(tmp_path)
    before = _files(tmp_path)
    with pytest.raises(CordvaultError) as info:
        decrypt_blob(ct, meta, OTHER_UPN, tmp_path / "out.gz")
    assert info.value.code is ErrorCode.WRONG_KEY
    assert UPN not in str(info.value)
    assert OTHER_UPN not in str(info.value)
    assert _files(tmp_path) == before


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


CT_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "flip first byte": lambda d: _flip(d, 0),
    "flip middle byte": lambda d: _flip(d, len(d) // 2),
    "flip last byte": lambda d: _flip(d, len(d) - 1),
    "truncate one block": lambda d: d[:-16],
    "truncate one byte": lambda d: d[:-1],
    "truncate to nothing": lambda d: b"",
    "append one block": lambda d: d + bytes(16),
    "append one byte": lambda d: d + b"\x00",
    "swap two blocks": lambda d: d[16:32] + d[:16] + d[32:],
}


@pytest.mark.parametrize("tamper", CT_TAMPERING.values(), ids=CT_TAMPERING.keys())
def test_tampered_ciphertext_is_corrupt_and_writes_nothing(
    tmp_path: Path, tamper: Callable[[bytes], bytes]
) -> None:
    ct, meta = _blob(tmp_path)
    ct.write_bytes(tamper(ct.read_bytes()))
    before = _files(tmp_path)
    with pytest.raises(CordvaultError) as info:
        decrypt_blob(ct, meta, UPN, tmp_path / "out.gz")
    assert info.value.code is ErrorCode.CORRUPT_BLOB
    assert _files(tmp_path) == before


META_TAMPERING: dict[str, Callable[[BlobMeta], BlobMeta]] = {
    "flip iv bit": lambda m: dataclasses.replace(m, iv=_flip(m.iv, 3)),
    "flip mac bit": lambda m: dataclasses.replace(m, mac=_flip(m.mac, 31)),
    "other version": lambda m: dataclasses.replace(m, version=2),
    "version zero": lambda m: dataclasses.replace(m, version=0),
}


@pytest.mark.parametrize("tamper", META_TAMPERING.values(), ids=META_TAMPERING.keys())
def test_tampered_metadata_is_corrupt_and_writes_nothing(
    tmp_path: Path, tamper: Callable[[BlobMeta], BlobMeta]
) -> None:
    ct, meta = _blob(tmp_path)
    before = _files(tmp_path)
    with pytest.raises(CordvaultError) as info:
        decrypt_blob(ct, tamper(meta), UPN, tmp_path / "out.gz")
    assert info.value.code is ErrorCode.CORRUPT_BLOB
    assert _files(tmp_path) == before


def test_existing_output_is_untouched_on_failure(tmp_path: Path) -> None:
    ct, meta = _blob(tmp_path)
    out = tmp_path / "out.gz"
    out.write_bytes(b"previous")
    ct.write_bytes(_flip(ct.read_bytes(), 100))
    with pytest.raises(CordvaultError):
        decrypt_blob(ct, meta, UPN, out)
    assert out.read_bytes() == b"previous"


def test_meta_json_round_trip_and_rejects_garbage() -> None:
    meta = BlobMeta(version=1, iv=bytes(16), mac=bytes(range(32)), key_check=b"k" * 16)
    raw = meta.to_json()
    assert BlobMeta.from_json(raw) == meta
    assert json.loads(raw) == {
        "version": 1,
        "iv": "00" * 16,
        "mac": bytes(range(32)).hex(),
        "key_check": (b"k" * 16).hex(),
    }
    good = json.loads(raw)
    bad = [
        "not json",
        "[]",
        json.dumps({**good, "iv": "00" * 15}),
        json.dumps({**good, "mac": "zz" * 32}),
        json.dumps({k: v for k, v in good.items() if k != "key_check"}),
        json.dumps({**good, "version": "1"}),
        json.dumps({**good, "version": True}),
    ]
    for raw_bad in bad:
        with pytest.raises(CordvaultError) as info:
            BlobMeta.from_json(raw_bad)
        assert info.value.code is ErrorCode.CORRUPT_BLOB, raw_bad


def test_bad_arguments_are_invalid_input(tmp_path: Path) -> None:
    gz = tmp_path / "p.gz"
    gz.write_bytes(b"x")
    for kwargs in ({"upn": UPN, "iv": bytes(8)}, {"upn": "", "iv": None}):
        with pytest.raises(CordvaultError) as info:
            encrypt_blob(gz, tmp_path / "c", kwargs["upn"], iv=kwargs["iv"])  # type: ignore[arg-type]
        assert info.value.code is ErrorCode.INVALID_INPUT
    assert not (tmp_path / "c").exists()
    with pytest.raises(CordvaultError) as info:
        encrypt_blob(gz, tmp_path / "missing-dir" / "c", UPN)
    assert info.value.code is ErrorCode.INVALID_INPUT


def test_container_round_trip(tmp_path: Path) -> None:
    ct, meta = _blob(tmp_path)
    box = tmp_path / "result.cvblob"
    write_container(meta, ct, box)
    assert box.read_bytes()[:7] == b"CVBLOB\x01"
    out_ct = tmp_path / "from-box.bin"
    assert read_container(box, out_ct) == meta
    assert out_ct.read_bytes() == ct.read_bytes()
    out = tmp_path / "out.gz"
    decrypt_blob(out_ct, meta, UPN, out)
    assert out.read_bytes() == (tmp_path / "payload.gz").read_bytes()


HEADER = 7 + 1 + 16 + 32 + 16 + 8
CONTAINER_TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "bad magic": lambda d: b"XVBLOB" + d[6:],
    "container version 2": lambda d: d[:6] + b"\x02" + d[7:],
    "blob version 9": lambda d: d[:7] + b"\x09" + d[8:],
    "truncated header": lambda d: d[:20],
    "truncated ciphertext": lambda d: d[:-1],
    "trailing bytes": lambda d: d + b"\x00",
    "empty file": lambda d: b"",
}


@pytest.mark.parametrize("tamper", CONTAINER_TAMPERING.values(), ids=CONTAINER_TAMPERING.keys())
def test_container_damage_is_corrupt(tmp_path: Path, tamper: Callable[[bytes], bytes]) -> None:
    ct, meta = _blob(tmp_path, size=100)
    box = tmp_path / "result.cvblob"
    write_container(meta, ct, box)
    box.write_bytes(tamper(box.read_bytes()))
    before = _files(tmp_path)
    with pytest.raises(CordvaultError) as info:
        read_container(box, tmp_path / "out.bin")
    assert info.value.code is ErrorCode.CORRUPT_BLOB
    assert _files(tmp_path) == before


def test_container_bitflip_is_caught_by_decrypt(tmp_path: Path) -> None:
    ct, meta = _blob(tmp_path, size=100)
    box = tmp_path / "result.cvblob"
    write_container(meta, ct, box)
    box.write_bytes(_flip(box.read_bytes(), HEADER + 5))
    out_ct = tmp_path / "out.bin"
    meta2 = read_container(box, out_ct)
    with pytest.raises(CordvaultError) as info:
        decrypt_blob(out_ct, meta2, UPN, tmp_path / "out.gz")
    assert info.value.code is ErrorCode.CORRUPT_BLOB
    assert not (tmp_path / "out.gz").exists()


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=2000))
@example(payload=b"")
@example(payload=bytes(16))
@example(payload=bytes(range(256)) * 2)  # 512: a multiple of 16
@example(payload=b"x" * (BLOCK_SIZE - 1))
def test_round_trip_any_size(payload: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "p.gz").write_bytes(payload)
        meta = encrypt_blob(d / "p.gz", d / "ct", UPN)
        ct = (d / "ct").read_bytes()
        assert len(ct) == (len(payload) // 16 + 1) * 16
        assert _client_decrypt(ct, meta.iv.hex(), UPN) == payload
        decrypt_blob(d / "ct", meta, UPN, d / "out.gz")
        assert (d / "out.gz").read_bytes() == payload
