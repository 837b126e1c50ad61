"""Every route's documented statuses and codes, bad input included: never a 500."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.dumpus_contract import DUMPUS_FIELDS
from tests.support.insights_server import PackageServer, bearer, insights_client, new_upn

from cordvault.core.settings import Settings
from cordvault.insights.jobs.package_links import package_id_for

BASE_STATUS_KEYS = set(DUMPUS_FIELDS["StatusOut"])


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> TestClient:
    # No lifespan: no worker runs, so submitted jobs stay queued and routes are checked alone.
    return insights_client(make_settings())


@pytest.fixture
def db_client(db_url: str, make_settings: Callable[..., Settings]) -> TestClient:
    """Like ``client``, once on SQLite and once on PostgreSQL."""
    return insights_client(make_settings(db_url))


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "alive"


def test_cors_preflight_lists_authorization(client: TestClient) -> None:
    response = client.options(
        "/process/abc/status",
        headers={
            "Origin": "https://dumpus.app",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert 200 <= response.status_code < 300
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert response.headers["access-control-allow-origin"] in ("*", "https://dumpus.app")


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"link": "x"}', "application/json"),
        (b"package_link=x", "application/x-www-form-urlencoded"),
    ],
)
def test_process_malformed_bodies_are_400(
    client: TestClient, raw: bytes, content_type: str
) -> None:
    response = client.post("/process", content=raw, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["errorMessageCode"] == "INVALID_INPUT"
    assert response.json()["isAccepted"] is False


def test_process_huge_body_is_413(client: TestClient) -> None:
    body = b'{"package_link": "' + b"a" * 200_000 + b'"}'
    response = client.post("/process", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "link",
    [
        "https://example.com/file.zip",
        "https://click.discord.com/ls/click?upn=short",
        "https://click.discord.com/ls/click?upn=" + "a" * 499,
        "https://click.discord.com/other?upn=" + "a" * 600,
        "http://click.discord.com/ls/click?upn=" + "a" * 600,
        "http://10.0.0.1/ls/click?upn=" + "a" * 600,
        "http://127.0.0.1:1/x?upn=" + "a" * 600,
        "file:///etc/passwd",
        "",
        None,
        42,
    ],
)
def test_invalid_links_are_refused(client: TestClient, link: object) -> None:
    response = client.post("/process", json={"package_link": link})
    assert response.status_code == 200
    assert response.json() == {
        "isAccepted": False,
        "packageId": None,
        "errorMessageCode": "INVALID_LINK",
    }


def test_discord_link_is_accepted_and_id_is_md5_of_upn(db_client: TestClient) -> None:
    client = db_client
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    body = client.post("/process", json={"package_link": link}).json()
    assert body == {"isAccepted": True, "packageId": package_id_for(upn), "errorMessageCode": None}
    # A second submission is the same answer (no duplicate job).
    assert client.post("/process", json={"package_link": link}).json() == body
    status = client.get(f"/process/{body['packageId']}/status", headers=bearer(upn)).json()
    assert status["processingStep"] == "LOCKED"
    assert status["isProcessing"] is True


def test_whitelisted_link_without_upn_uses_base64_path(
    client: TestClient, package_server: PackageServer
) -> None:
    import base64

    link = f"{package_server.base}/pkg/some/file.zip"
    body = client.post("/process", json={"package_link": link}).json()
    upn = base64.b64encode(b"pkgsomefile.zip").decode()
    assert body["packageId"] == package_id_for(upn)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Token abc", "bearer-abc", "Basic Zm9vOmJhcg==", "Bearer a b"],
)
def test_status_bad_bearer_is_401(client: TestClient, header: str | None) -> None:
    upn = new_upn()
    headers = {} if header is None else {"Authorization": header}
    response = client.get(f"/process/{package_id_for(upn)}/status", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) >= BASE_STATUS_KEYS
    assert body["errorMessageCode"] == "UNAUTHORIZED"


def test_status_wrong_bearer_and_unknown_package(db_client: TestClient) -> None:
    client = db_client
    upn, other = new_upn(), new_upn()
    pid = package_id_for(upn)
    assert client.get(f"/process/{pid}/status", headers=bearer(other)).status_code == 401
    response = client.get(f"/process/{pid}/status", headers=bearer(upn))
    assert response.status_code == 200
    assert response.json()["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"


def test_blob_data_user_delete_statuses(db_client: TestClient) -> None:
    client = db_client
    upn = new_upn()
    pid = package_id_for(upn)
    for method, path in [
        ("GET", f"/process/{pid}/blob"),
        ("GET", f"/process/{pid}/data"),
        ("GET", f"/process/{pid}/user/80351110224678912"),
        ("DELETE", f"/process/{pid}"),
    ]:
        response = client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401, path
        assert response.json()["errorMessageCode"] == "UNAUTHORIZED"
    assert client.get(f"/process/{pid}/blob", headers=bearer(upn)).status_code == 404
    assert client.get(f"/process/{pid}/data", headers=bearer(upn)).status_code == 404
    user = client.get(f"/process/{pid}/user/80351110224678912", headers=bearer(upn))
    assert user.status_code == 404
    assert user.json()["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    deleted = client.delete(f"/process/{pid}", headers=bearer(upn))
    assert deleted.status_code == 200
    assert deleted.json() == {"isDeleted": False, "errorMessageCode": "UNKNOWN_PACKAGE_ID"}


def test_queued_package_has_no_blob_yet(db_client: TestClient) -> None:
    client = db_client
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    response = client.get(f"/process/{pid}/blob", headers=bearer(upn))
    assert response.status_code == 404
    assert response.json()["errorMessageCode"] == "NOT_FOUND"


def test_widget_rejects_non_numeric_ids(client: TestClient) -> None:
    response = client.get("/widget/not-a-number")
    assert response.status_code == 400
    assert response.json()["errorMessageCode"] == "INVALID_INPUT"


def test_unknown_routes_are_json_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["errorMessageCode"] == "NOT_FOUND"


def test_blob_route_refuses_bad_signatures(client: TestClient) -> None:
    for url in [
        "/blobs/abc/def.bin",
        "/blobs/abc/def.bin?expires=1&signature=00",
        "/blobs/abc/def.bin?expires=99999999999&signature=00",
        "/blobs/..%2F..%2Fcordvault.db?expires=99999999999&signature=00",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url


def test_admin_upgrade(db_client: TestClient) -> None:
    client = db_client
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    url = f"/admin/process/{pid}/upgrade"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
    assert client.post(url, headers=admin).json() == {"packageId": pid, "isUpgraded": True}
    status = client.get(f"/process/{pid}/status", headers=bearer(upn)).json()
    assert status["isUpgraded"] is True
    unknown = client.post("/admin/process/00000000000000000000000000000000/upgrade", headers=admin)
    assert unknown.status_code == 404


def test_admin_disabled_without_token(make_settings: Callable[..., Settings]) -> None:
    client = insights_client(make_settings(admin_token=None))
    response = client.post("/admin/process/abc/upgrade", headers={"Authorization": "Bearer x"})
    assert response.status_code == 403


def test_demo_package(client: TestClient, tmp_path: Path) -> None:
    status = client.get("/process/demo/status").json()
    assert status["isDataAvailable"] is True
    blob = client.get("/process/demo/blob").json()
    assert blob["iv"] is None
    assert blob["ttl"] == 300
    raw = client.get(blob["url"])
    assert raw.status_code == 200
    assert raw.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert raw.headers["x-content-type-options"] == "nosniff"
    db = tmp_path / "demo.sqlite"
    db.write_bytes(gzip.decompress(raw.content))
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT package_id FROM package_data").fetchone()[0] == "demo"
    finally:
        conn.close()
    legacy = client.get("/process/demo/data")
    assert legacy.status_code == 200
    assert legacy.content == raw.content
    assert legacy.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert legacy.headers["x-content-type-options"] == "nosniff"


def test_whitelist_prefix_must_name_the_same_host_and_port() -> None:
    """A slash-less prefix must not admit another port or a userinfo trick at submission
    (the downloader refuses them too, so accepting them would only fail later)."""
    from cordvault.core.errors import CordvaultError
    from cordvault.insights.jobs.package_links import parse_link

    prefixes = ["http://127.0.0.1:800"]
    assert parse_link("http://127.0.0.1:800/p.zip?upn=abc", prefixes).upn == "abc"
    for link in ("http://127.0.0.1:8000/p.zip?upn=abc", "http://127.0.0.1:800@evil.test/?upn=a"):
        with pytest.raises(CordvaultError) as info:
            parse_link(link, prefixes)
        assert info.value.code == "INVALID_LINK"
