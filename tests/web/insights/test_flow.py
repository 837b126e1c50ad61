"""The done-when test, in-process queue: exactly what the Dumpus app does, on SQLite and PG."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.dumpus_client import decrypt_like_client, fetch_blob, open_and_query
from tests.support.dumpus_contract import DUMPUS_FIELDS
from tests.support.insights_server import (
    PackageServer,
    bearer,
    dump_tables,
    insights_client,
    new_upn,
)

from cordvault.core.settings import Settings
from cordvault.insights.jobs.package_links import package_id_for


def test_client_flow_inprocess_queue(
    db_url: str,
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(db_url)
    upn = new_upn()
    package_server.files["package.zip"] = small_package
    with insights_client(settings) as client:
        answer = client.post(
            "/process", json={"package_link": package_server.link("package.zip", upn)}
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body == {
            "isAccepted": True,
            "packageId": package_id_for(upn),
            "errorMessageCode": None,
        }
        package_id = body["packageId"]

        steps: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the client polls every second
            status = client.get(f"/process/{package_id}/status", headers=bearer(upn)).json()
            steps.append(status["processingStep"])
            if status["isDataAvailable"] or status["isErrored"]:
                break
            assert status["isProcessing"] is True
            positions = set(status["processingQueuePosition"])
            assert positions >= set(DUMPUS_FIELDS["QueuePositionOut"])
            time.sleep(1.0)
        assert status["isErrored"] is False, status
        assert status["isDataAvailable"] is True
        assert status["processingStep"] == "PROCESSED"
        assert set(steps) <= {"LOCKED", "DOWNLOADING", "ANALYZING", "PROCESSED"}

        blob = client.get(f"/process/{package_id}/blob", headers=bearer(upn))
        assert blob.status_code == 200
        meta = blob.json()
        assert meta["ttl"] == 300
        assert len(meta["iv"]) == 32
        assert meta["url"].startswith("http://testserver/blobs/")
        sqlite_bytes = decrypt_like_client(fetch_blob(client, meta["url"]), meta["iv"], upn)
        result = open_and_query(sqlite_bytes, tmp_path)
        assert result["owner"][0] == package_id
        assert result["messages"] > 0
        assert result["guilds"] > 0

        # Legacy /data: the same gzip, decrypted server-side.
        legacy = client.get(f"/process/{package_id}/data", headers=bearer(upn))
        assert legacy.status_code == 200
        import gzip

        assert gzip.decompress(legacy.content) == sqlite_bytes

        # Re-submitting a processed package answers the same without re-queueing.
        hits = len(package_server.hits)
        again = client.post(
            "/process", json={"package_link": package_server.link("package.zip", upn)}
        ).json()
        assert again["isAccepted"]
        assert again["packageId"] == package_id
        time.sleep(0.5)
        assert len(package_server.hits) == hits
    # The downloaded zip and the job's work dir are gone.
    assert not any(settings.data_dir.joinpath("tmp").glob(f"{package_id}*"))
    # Neither the UPN nor the link reached the database, the disk or the logs.
    link = package_server.link("package.zip", upn)
    tables = dump_tables(settings.effective_database_url)
    disk = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    for secret in (upn, link):
        assert secret not in tables
        assert secret.encode() not in disk
        assert secret not in caplog.text
