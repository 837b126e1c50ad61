"""Blob stores: the local signed-URL store and S3 (a local moto server) run the same flow."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.support.dumpus_client import decrypt_like_client, open_and_query
from tests.support.insights_server import (
    PackageServer,
    bearer,
    done,
    insights_client,
    new_upn,
    wait_status,
)

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.blobstore import BlobStore, LocalBlobStore, S3BlobStore


def _s3_settings(make_settings: Callable[..., Settings], endpoint: str) -> Settings:
    return make_settings(
        blob_store="s3",
        s3_endpoint_url=endpoint,
        s3_bucket="blobs",
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )


def _roundtrip(store: BlobStore, tmp_path: Path, base_url: str) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(100_000))
    key = "0123abcd/tok.bin"
    store.put(key, src)
    url = store.url(key, ttl=60, base_url=base_url)
    assert url.startswith("http")
    back = tmp_path / "back.bin"
    store.fetch(key, back)
    assert back.read_bytes() == src.read_bytes()
    store.delete(key)
    store.delete(key)  # idempotent
    with pytest.raises(CordvaultError) as info:
        store.fetch(key, back)
    assert info.value.code == ErrorCode.NOT_FOUND
    for bad in ("../etc/passwd", "a/../../b.bin", "UPPER/x.bin", "nokey"):
        with pytest.raises(CordvaultError):
            store.put(bad, src)


def test_local_store_roundtrip_and_signed_urls(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", os.urandom(32))
    _roundtrip(store, tmp_path, "http://x")
    src = tmp_path / "s.bin"
    src.write_bytes(b"abc")
    store.put("aa/bb.bin", src)
    url = store.url("aa/bb.bin", ttl=60, base_url="https://cv.example/")
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    assert url.startswith("https://cv.example/blobs/aa/bb.bin?")
    assert store.verify("aa/bb.bin", query["expires"], query["signature"]).read_bytes() == b"abc"
    for expires, signature in [
        (query["expires"], "0" * 64),
        (str(int(time.time()) - 1), query["signature"]),
        ("x", query["signature"]),
    ]:
        with pytest.raises(CordvaultError):
            store.verify("aa/bb.bin", expires, signature)
    other = LocalBlobStore(tmp_path / "blobs", os.urandom(32))
    with pytest.raises(CordvaultError):
        other.verify("aa/bb.bin", query["expires"], query["signature"])


def test_s3_store_roundtrip(
    s3_endpoint: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    store = S3BlobStore(_s3_settings(make_settings, s3_endpoint))
    _roundtrip(store, tmp_path, "http://unused")


def test_client_flow_with_s3_presigned_urls(
    s3_endpoint: str,
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
    tmp_path: Path,
) -> None:
    settings = _s3_settings(make_settings, s3_endpoint)
    upn = new_upn()
    package_server.files["s.zip"] = small_package
    with insights_client(settings) as client:
        pid = client.post(
            "/process", json={"package_link": package_server.link("s.zip", upn)}
        ).json()["packageId"]
        assert wait_status(client, pid, upn, done)["isDataAvailable"] is True
        meta = client.get(f"/process/{pid}/blob", headers=bearer(upn)).json()
        assert meta["url"].startswith(s3_endpoint)
        assert "X-Amz-Signature" in meta["url"]
        ciphertext = httpx.get(meta["url"]).content
        plain = decrypt_like_client(ciphertext, meta["iv"], upn)
        assert open_and_query(plain, tmp_path)["owner"][0] == pid
        legacy = client.get(f"/process/{pid}/data", headers=bearer(upn))
        assert legacy.status_code == 200
        client.delete(f"/process/{pid}", headers=bearer(upn))
        assert httpx.get(meta["url"]).status_code == 404
