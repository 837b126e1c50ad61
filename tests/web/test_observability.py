"""`/metrics` (off by default, token-protected, route templates only), request ids, JSON logs
with the secret redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.drive.conftest import drive_settings

from cordvault.core.logs import JsonFormatter, RedactingFilter, register_secret
from cordvault.web.app import create_app

TOKEN = "metrics-token-4f9b2c7d1e0a"


def _client(db_url: str, data_dir: Path, **overrides: object) -> TestClient:
    return TestClient(create_app(drive_settings(db_url, data_dir, **overrides)))


def test_metrics_are_off_by_default(db_url: str, data_dir: Path) -> None:
    with _client(db_url, data_dir) as client:
        assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token_and_label_routes_by_template(db_url: str, data_dir: Path) -> None:
    with _client(db_url, data_dir, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        r = client.post("/api/auth/register", json={"name": "admin", "password": "x" * 12})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        file_id = "0123456789abcdef0123456789abcdef"
        assert client.get(f"/api/drive/files/{file_id}", headers=auth).status_code == 404
        page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    text = page.text
    assert 'route="/api/drive/files/{file_id}"' in text
    assert file_id not in text
    assert r.json()["token"] not in text
    assert "cordvault_jobs" in text
    assert "cordvault_drive_gc_backlog 0.0" in text


def test_request_ids_are_echoed_or_made(db_url: str, data_dir: Path) -> None:
    with _client(db_url, data_dir) as client:
        given = client.get("/api/auth/me", headers={"X-Request-ID": "abc-123"})
        made = client.get("/api/auth/me", headers={"X-Request-ID": "bad id;" * 10})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16


@pytest.mark.parametrize("formatter", [JsonFormatter, lambda: logging.Formatter("%(message)s")])
def test_logs_carry_the_request_id_and_never_a_secret(
    formatter: Callable[[], logging.Formatter],
) -> None:
    from cordvault.core.logs import REQUEST_ID

    secret = "s3cr3t-value-0123456789"
    register_secret(secret)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("cordvault.test.observability")
    log.addHandler(handler)
    token = REQUEST_ID.set("req-42")
    try:
        log.warning("calling https://cdn.example/x?sig=abc with %s", secret)
    finally:
        REQUEST_ID.reset(token)
        log.removeHandler(handler)
    line = out.getvalue().strip()
    assert secret not in line
    assert "sig=abc" not in line
    if formatter is JsonFormatter:
        entry = json.loads(line)
        assert entry["request_id"] == "req-42"
        assert entry["level"] == "WARNING"
