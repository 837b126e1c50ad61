"""Packages uploaded directly: streamed to disk with a cap, zip-checked, same status flow."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.support.dumpus_client import decrypt_like_client, open_and_query
from tests.support.insights_server import bearer, done, insights_client, new_upn, wait_status

from cordvault.core.settings import Settings
from cordvault.insights.jobs.package_links import package_id_for


def test_raw_and_multipart_uploads_are_processed(
    make_settings: Callable[..., Settings], small_package: Path, tmp_path: Path
) -> None:
    settings = make_settings()
    with insights_client(settings) as client:
        raw_upn, multi_upn = new_upn(), new_upn()
        raw = client.post(
            "/process/upload",
            content=small_package.read_bytes(),
            headers={**bearer(raw_upn), "Content-Type": "application/zip"},
        )
        assert raw.status_code == 200, raw.text
        assert raw.json() == {
            "isAccepted": True,
            "packageId": package_id_for(raw_upn),
            "errorMessageCode": None,
        }
        with small_package.open("rb") as f:
            multi = client.post(
                "/process/upload",
                files={"file": ("package.zip", f, "application/zip")},
                data={"note": "ignored"},
                headers=bearer(multi_upn),
            )
        assert multi.status_code == 200, multi.text
        for upn in (raw_upn, multi_upn):
            pid = package_id_for(upn)
            assert wait_status(client, pid, upn, done)["isDataAvailable"] is True
            meta = client.get(f"/process/{pid}/blob", headers=bearer(upn)).json()
            plain = decrypt_like_client(client.get(meta["url"]).content, meta["iv"], upn)
            assert open_and_query(plain, tmp_path)["owner"][0] == pid
    # Uploaded zips are deleted once their job ended.
    assert not list((settings.data_dir / "tmp" / "uploads").iterdir())


def test_upload_rejections(make_settings: Callable[..., Settings], small_package: Path) -> None:
    settings = make_settings(max_upload_bytes=50_000)
    client = insights_client(settings)
    upn = new_upn()
    data = small_package.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Account/user.json", b'{"id": "1"}')
    small_zip = buf.getvalue()
    cases = [
        ({}, data, 401, "UNAUTHORIZED"),
        ({"Authorization": upn}, data, 401, "UNAUTHORIZED"),
        (bearer(upn), data, 413, "PACKAGE_TOO_LARGE"),
        (bearer(upn), b"this is not a zip at all", 400, "NOT_A_ZIP"),
        (bearer(upn), b"", 400, "NOT_A_ZIP"),
        # Starts like a zip, cannot be opened: CORRUPT_ZIP, as docs/errors.md says (and as
        # the analysis itself answers).
        (bearer(upn), b"PK\x03\x04 but truncated", 400, "CORRUPT_ZIP"),
        (bearer(upn), data[:40_000], 400, "CORRUPT_ZIP"),  # a real package cut short
        (bearer(upn), small_zip[:-10], 400, "CORRUPT_ZIP"),  # only its directory's end lost
    ]
    for headers, body, status, code in cases:
        response = client.post(
            "/process/upload",
            content=body,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == status, (code, response.text)
        assert response.json()["errorMessageCode"] == code
    # Over the cap without Content-Length (chunked): the stream is cut at the cap.
    response = client.post(
        "/process/upload",
        content=iter([data[i : i + 8192] for i in range(0, len(data), 8192)]),
        headers={**bearer(upn), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413
    multipart = client.post(
        "/process/upload",
        files={"other": ("x.zip", b"PK", "application/zip")},
        headers=bearer(upn),
    )
    assert multipart.status_code == 400
    status = client.get(f"/process/{package_id_for(upn)}/status", headers=bearer(upn)).json()
    assert status["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    # Nothing partial left behind.
    assert not list((settings.data_dir / "tmp" / "uploads").iterdir())
