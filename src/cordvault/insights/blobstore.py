"""Where encrypted result blobs live, and the short-lived URLs the client fetches them from.

Two stores share one small interface (:class:`BlobStore`):

- :class:`LocalBlobStore` (default): files under ``<DATA_DIR>/blobs``; a URL is
  ``<base>/blobs/<key>?expires=<unix>&signature=<hmac>``, served by our own route
  (:meth:`LocalBlobStore.verify` checks it). The signing key is derived from the transit key,
  so every API process of one deployment signs alike.
- :class:`S3BlobStore` (``BLOB_STORE=s3``): an S3-compatible bucket; URLs are presigned
  ``GET`` URLs. The bucket's CORS rules must allow the client's origin (operator's job).

Keys look like ``<package_id>/<random>.bin``. Error contract: a missing blob ->
``CordvaultError(NOT_FOUND)``; backend trouble -> ``STORAGE_UNAVAILABLE``; a bad or expired
signature -> ``NOT_FOUND`` (we do not tell an attacker which). ``delete`` is idempotent.
Signed URLs are credentials: never log them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import shutil
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import atomic_output, make_private_dirs
from cordvault.core.settings import Settings, require
from cordvault.insights.transit import TransitKey

_KEY = re.compile(r"[a-z0-9]{1,64}/[A-Za-z0-9_-]{1,64}\.(bin|gz)")


class BlobStore(Protocol):
    """Stores blobs by key and hands out expiring download URLs."""

    def put(self, key: str, src: Path) -> None:
        """Store the file ``src`` under ``key`` (replacing any previous one)."""

    def fetch(self, key: str, dst: Path) -> None:
        """Copy the blob to ``dst``; unknown key -> ``NOT_FOUND``."""

    def delete(self, key: str) -> None:
        """Remove the blob (no-op if absent)."""

    def url(self, key: str, *, ttl: int, base_url: str) -> str:
        """An absolute URL valid for ``ttl`` seconds."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (path traversal) or are not ours."""
    if not _KEY.fullmatch(key):
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob")
    return key


class LocalBlobStore:
    """Blobs as files in a directory, served through signed expiring URLs."""

    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self._signing_key = signing_key
        make_private_dirs(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, src: Path) -> None:
        """Copy ``src`` in as ``key``, atomically (a reader never sees a partial blob)."""
        with src.open("rb") as inp, atomic_output(self.path(key)) as out:
            shutil.copyfileobj(inp, out, 1024 * 1024)

    def fetch(self, key: str, dst: Path) -> None:
        try:
            shutil.copyfile(self.path(key), dst)
        except FileNotFoundError as exc:
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob") from exc

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        with_parent = path.parent
        if with_parent != self.root:
            # Not empty: another blob of this package is still there.
            with contextlib.suppress(OSError):
                with_parent.rmdir()

    def url(self, key: str, *, ttl: int, base_url: str) -> str:
        expires = int(time.time()) + ttl
        signature = self._sign(key, expires)
        return f"{base_url.rstrip('/')}/blobs/{quote(key)}?expires={expires}&signature={signature}"

    def verify(self, key: str, expires: str, signature: str) -> Path:
        """The file behind a signed URL; bad, expired or unknown -> ``NOT_FOUND``."""
        check_key(key)
        if not expires.isdigit() or int(expires) < time.time():
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob (or the link expired)")
        if not hmac.compare_digest(self._sign(key, int(expires)), signature):
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob (or the link expired)")
        path = self.path(key)
        if not path.is_file():
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob")
        return path

    def _sign(self, key: str, expires: int) -> str:
        msg = f"{key}\n{expires}".encode()
        return hmac.new(self._signing_key, msg, hashlib.sha256).hexdigest()


class S3BlobStore:
    """Blobs in an S3-compatible bucket; URLs are presigned GETs."""

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        require(settings, "s3_bucket")
        assert settings.s3_bucket is not None
        self.bucket = settings.s3_bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=(
                settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
            ),
            aws_secret_access_key=(
                settings.s3_secret_access_key.get_secret_value()
                if settings.s3_secret_access_key
                else None
            ),
            config=Config(signature_version="s3v4", retries={"max_attempts": 3}),
        )

    def put(self, key: str, src: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.upload_file(str(src), self.bucket, check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def fetch(self, key: str, dst: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.download_file(self.bucket, check_key(key), str(dst))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def url(self, key: str, *, ttl: int, base_url: str) -> str:
        _ = base_url
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": check_key(key)},
                ExpiresIn=ttl,
            )
        )


def _unavailable(exc: Exception) -> CordvaultError:
    return CordvaultError(
        ErrorCode.STORAGE_UNAVAILABLE, f"the blob store failed ({type(exc).__name__})"
    )


def open_blob_store(settings: Settings, transit: TransitKey) -> BlobStore:
    """The store ``BLOB_STORE`` names (``INVALID_SETTINGS`` for an unknown one)."""
    if settings.blob_store == "local":
        return LocalBlobStore(settings.data_dir / "blobs", transit.derive("blob-url"))
    if settings.blob_store == "s3":
        return S3BlobStore(settings)
    raise CordvaultError(ErrorCode.INVALID_SETTINGS, "BLOB_STORE must be local or s3")
