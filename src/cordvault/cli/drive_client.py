"""An HTTP client of a drive server, used by the ``cordvault drive`` commands.

Every server error comes back as the server's :class:`CordvaultError` (same code and message);
transport failures are ``STORAGE_UNAVAILABLE``-style ``UPSTREAM_ERROR``. Uploads use the
resumable protocol with ``parallel`` chunks in flight, per-chunk retries, and a small state file
so a re-run of the same ``put`` resumes where it stopped. Downloads stream to ``LOCAL.part`` and
resume with ``Range`` + ``If-Range`` when that file exists. Tokens never reach logs: httpx's
logger (which prints URLs) is held at WARNING.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import atomic_write

logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

Progress = Callable[[int], None]
"""Called with the number of bytes just transferred."""

_RETRIES = 4
_RETRY_STATUSES = (429, 500, 502, 503, 504)


def _error_from(response: httpx.Response) -> CordvaultError:
    try:
        body = response.json()
        code = ErrorCode(body["errorMessageCode"])
        message = str(body.get("message", ""))
        details = body.get("details") if isinstance(body.get("details"), dict) else None
    except (ValueError, KeyError, TypeError):
        code, message, details = ErrorCode.UPSTREAM_ERROR, f"HTTP {response.status_code}", None
    return CordvaultError(code, message, http_status=response.status_code, details=details)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), atomically."""
    atomic_write(path, text.encode())


class DriveClient:
    """Talks to ``base_url`` with an optional bearer token."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DriveClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request with retries on transport errors and 429/5xx; errors raised."""
        delay = 0.5
        for attempt in range(_RETRIES):
            try:
                response = self._http.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt == _RETRIES - 1:
                    raise CordvaultError(
                        ErrorCode.UPSTREAM_ERROR,
                        f"cannot reach the drive server ({type(exc).__name__})",
                    ) from None
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == _RETRIES - 1:
                    if response.status_code >= 400:
                        raise _error_from(response)
                    return response
                # INTEGRITY_ERROR is a 500 that retrying cannot fix.
                if response.status_code == 500 and b"INTEGRITY_ERROR" in response.content:
                    raise _error_from(response)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _json(self, method: str, url: str, **kw: Any) -> Any:
        return self._call(method, url, **kw).json()

    # -- accounts ------------------------------------------------------------------------

    def login(self, name: str, password: str) -> str:
        body = self._json("POST", "/api/auth/login", json={"name": name, "password": password})
        return str(body["token"])

    def logout(self) -> None:
        self._call("POST", "/api/auth/logout")

    def sessions(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self._json("GET", "/api/auth/sessions")
        return body

    def revoke_session(self, session_id: str) -> None:
        self._call("DELETE", f"/api/auth/sessions/{quote(session_id, safe='')}")

    def revoke_sessions(self, *, keep_current: bool) -> int:
        params = {"keep_current": "true" if keep_current else "false"}
        return int(self._json("DELETE", "/api/auth/sessions", params=params)["revoked"])

    def security_log(self, *, kind: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if kind is not None:
            params["kind"] = kind
        body: list[dict[str, Any]] = self._json("GET", "/api/auth/security-log", params=params)
        return body

    # -- tree ----------------------------------------------------------------------------

    def resolve(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", "/api/drive/resolve", params={"path": path})
        return body

    def find(self, path: str) -> dict[str, Any] | None:
        try:
            return self.resolve(path)
        except CordvaultError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return None
            raise

    def list_all(self, folder_id: str, sort: str = "name") -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._json(
                "GET",
                f"/api/drive/folders/{folder_id}",
                params={"limit": 500, "offset": offset, "sort": sort},
            )
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def mkdir(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json("POST", "/api/drive/mkdir", params={"path": path})
        return body

    def update_folder(self, folder_id: str, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._json("PATCH", f"/api/drive/folders/{folder_id}", json=changes)
        return body

    def update_file(self, file_id: str, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._json("PATCH", f"/api/drive/files/{file_id}", json=changes)
        return body

    def delete_folder(self, folder_id: str) -> int:
        return int(self._json("DELETE", f"/api/drive/folders/{folder_id}")["deleted_files"])

    def delete_file(self, file_id: str) -> None:
        self._call("DELETE", f"/api/drive/files/{file_id}")

    def share(self, file_id: str, user: str, access: str) -> None:
        self._call("PUT", f"/api/drive/files/{file_id}/shares/{user}", json={"access": access})

    def unshare(self, file_id: str, user: str) -> None:
        self._call("DELETE", f"/api/drive/files/{file_id}/shares/{user}")

    def link(self, file_id: str, expires_in: int | None = None) -> str:
        body = self._json(
            "POST", f"/api/drive/files/{file_id}/links", json={"expires_in": expires_in}
        )
        return str(body["url"])

    # -- publishing, ownership, links, shares, usage, merge, app passwords (issue 17) ----

    def transfer(self, file_id: str, user: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(
            "POST", f"/api/drive/files/{file_id}/owner", json={"user": user}
        )
        return body

    def links(self, file_id: str) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self._json("GET", f"/api/drive/files/{file_id}/links")
        return body

    def revoke_link(self, link_id: str) -> None:
        self._call("DELETE", f"/api/drive/links/{link_id}")

    def revoke_links(self, file_id: str) -> int:
        return int(self._json("DELETE", f"/api/drive/files/{file_id}/links")["revoked"])

    def shares(self, file_id: str) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self._json("GET", f"/api/drive/files/{file_id}/shares")
        return body

    def shared_with_me(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self._json(
                "GET", "/api/drive/shared", params={"limit": 1000, "offset": len(out)}
            )
            out += page
            if len(page) < 1000:
                return out

    def usage(self, folder_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", f"/api/drive/folders/{folder_id}/usage")
        return body

    def merge(self, folder_id: str, into: str, on_conflict: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(
            "POST",
            f"/api/drive/folders/{folder_id}/merge",
            json={"into": into, "on_conflict": on_conflict},
        )
        return body

    def create_app_password(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json("POST", "/api/auth/app-passwords", json={"name": name})
        return body

    def app_passwords(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self._json("GET", "/api/auth/app-passwords")
        return body

    def revoke_app_password(self, app_password_id: str) -> None:
        self._call("DELETE", f"/api/auth/app-passwords/{app_password_id}")

    # -- transfers -----------------------------------------------------------------------

    def upload(
        self,
        local: Path,
        folder_id: str,
        name: str,
        *,
        on_conflict: str = "fail",
        parallel: int = 4,
        state_file: Path | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Resumable parallel upload of ``local``; returns the completion answer."""
        size = local.stat().st_size
        digest = _sha256_file(local)
        key = f"{self.base_url}|{local.resolve()}|{size}|{digest}|{folder_id}|{name}"
        upload = self._resume(state_file, key)
        if upload is None:
            upload = self._json(
                "POST",
                "/api/drive/uploads",
                json={
                    "folder_id": folder_id,
                    "name": name,
                    "size": size,
                    "sha256": digest,
                    "on_conflict": on_conflict,
                },
            )
            _remember(state_file, key, upload["id"])
        chunk_size, count = int(upload["chunk_size"]), int(upload["chunk_count"])
        done = set(upload.get("received", []))
        if progress is not None:
            progress(sum(min(chunk_size, size - i * chunk_size) for i in done))
        todo = [i for i in range(count) if i not in done]
        upload_id = upload["id"]

        def send(index: int) -> None:
            with local.open("rb") as fh:
                fh.seek(index * chunk_size)
                data = fh.read(chunk_size)
            self._call(
                "PUT",
                f"/api/drive/uploads/{upload_id}/chunks/{index}",
                content=data,
                headers={"x-chunk-sha256": hashlib.sha256(data).hexdigest()},
            )
            if progress is not None:
                progress(len(data))

        with ThreadPoolExecutor(max(1, parallel)) as pool:
            for _ in pool.map(send, todo):
                pass
        result: dict[str, Any] = self._json("POST", f"/api/drive/uploads/{upload_id}/complete")
        _remember(state_file, key, None)
        return result

    def _resume(self, state_file: Path | None, key: str) -> dict[str, Any] | None:
        upload_id = _load_state(state_file).get(key)
        if not upload_id:
            return None
        try:
            status: dict[str, Any] = self._json("GET", f"/api/drive/uploads/{upload_id}")
        except CordvaultError:
            return None
        return status if status.get("state") == "open" else None

    def download(self, file_id: str, local: Path, *, progress: Progress | None = None) -> int:
        """Stream a file to ``local`` (via ``local.part``, resumed if present); returns size."""
        part = local.with_name(local.name + ".part")
        meta = self._json("GET", f"/api/drive/files/{file_id}")
        offset = part.stat().st_size if part.exists() else 0
        headers: dict[str, str] = {}
        etag_file = local.with_name(local.name + ".part.etag")
        if offset and etag_file.exists():
            headers = {"range": f"bytes={offset}-", "if-range": etag_file.read_text()}
        else:
            offset = 0
        url = f"/api/drive/files/{file_id}/content"
        with self._stream("GET", url, headers) as response:
            if response.status_code == 200:
                offset = 0  # the file changed, or no resume: start over
            etag_file.write_text(response.headers.get("etag", ""))
            if progress is not None and offset:
                progress(offset)
            with part.open("r+b" if offset else "wb") as fh:
                fh.seek(offset)
                fh.truncate()
                for piece in response.iter_bytes(1024 * 1024):
                    fh.write(piece)
                    if progress is not None:
                        progress(len(piece))
        if part.stat().st_size != int(meta["size"]):
            raise CordvaultError(ErrorCode.DOWNLOAD_FAILED, "download ended early; run it again")
        os.replace(part, local)
        etag_file.unlink(missing_ok=True)
        return int(meta["size"])

    def download_zip(self, folder_id: str, out: Path, *, progress: Progress | None = None) -> int:
        tmp = out.with_name(out.name + ".part")
        total = 0
        url = f"/api/drive/folders/{folder_id}/zip"
        with self._stream("GET", url, {}) as response, tmp.open("wb") as fh:
            for piece in response.iter_bytes(1024 * 1024):
                fh.write(piece)
                total += len(piece)
                if progress is not None:
                    progress(len(piece))
        os.replace(tmp, out)
        return total

    # -- trash, versions, quotas, search, folder sharing (issue 16; cli/drive_features.py) --

    def api(self, method: str, url: str, **kw: Any) -> Any:
        """One JSON call of the drive API (``None`` for an empty answer), errors raised."""
        response = self._call(method, url, **kw)
        return response.json() if response.content else None

    def save(self, url: str, out: Path) -> int:
        """Stream ``url``'s body to ``out`` (via ``out.part``); returns the bytes written."""
        tmp = out.with_name(out.name + ".part")
        total = 0
        with self._stream("GET", url, {}) as response, tmp.open("wb") as fh:
            for piece in response.iter_bytes(1024 * 1024):
                fh.write(piece)
                total += len(piece)
        os.replace(tmp, out)
        return total

    @contextmanager
    def _stream(self, method: str, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        try:
            with self._http.stream(method, url, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                yield response
        except httpx.TransportError as exc:
            raise CordvaultError(
                ErrorCode.DOWNLOAD_FAILED,
                f"transfer interrupted ({type(exc).__name__}); run it again",
            ) from None


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a local file, read in 1 MiB blocks."""
    return _sha256_file(path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _load_state(state_file: Path | None) -> dict[str, str]:
    if state_file is None or not state_file.exists():
        return {}
    try:
        data = json.loads(state_file.read_text())
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _remember(state_file: Path | None, key: str, upload_id: str | None) -> None:
    if state_file is None:
        return
    state = _load_state(state_file)
    if upload_id is None:
        state.pop(key, None)
    else:
        state[key] = upload_id
    write_private(state_file, json.dumps(state))
