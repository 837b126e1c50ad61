"""The operational counters, scraped from ``/metrics`` after doing the thing they count: storage
bytes per backend, Discord requests by route template with 429s and retries, the signed-URL
cache, job step durations, queue depth; and ``/health``'s queue and storage report. Labels never
carry ids, channel ids, tokens or paths."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.drive.conftest import drive_settings
from tests.storage.discord_support import CHANNELS, TOKEN, make_config
from tests.support.insights_server import PackageServer, done, new_upn, wait_status

from cordvault.core.settings import Settings
from cordvault.discord.emulator import FaultRule, running_emulator
from cordvault.web.app import create_app

METRICS_TOKEN = "metrics-token-4f9b2c7d1e0a"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
MESSAGES = "POST /channels/{channel_id}/messages"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(client: TestClient) -> tuple[str, Samples]:
    page = client.get("/metrics", headers=SCRAPE)
    assert page.status_code == 200, page.text
    samples: Samples = {}
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return page.text, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _register(client: TestClient) -> dict[str, str]:
    r = client.post("/api/auth/register", json={"name": "admin", "password": "x" * 12})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _round_trip(client: TestClient, auth: dict[str, str], data: bytes) -> str:
    r = client.put("/api/drive/upload", params={"path": "/m.bin"}, content=data, headers=auth)
    assert r.status_code == 201, r.text
    file_id: str = r.json()["file"]["id"]
    back = client.get(f"/api/drive/files/{file_id}/content", headers=auth)
    assert back.status_code == 200
    assert back.content == data
    return file_id


def test_local_storage_bytes_queue_depth_and_health(db_url: str, data_dir: Path) -> None:
    settings = drive_settings(db_url, data_dir, metrics_token=METRICS_TOKEN)
    with TestClient(create_app(settings)) as client:
        auth = _register(client)
        _text, before = _scrape(client)
        data = os.urandom(300_000)
        file_id = _round_trip(client, auth, data)
        text, after = _scrape(client)
        health = client.get("/health").json()

    name = "cordvault_storage_bytes_total"
    up = _value(after, name, backend="local", direction="uploaded")
    down = _value(after, name, backend="local", direction="downloaded")
    assert up - _value(before, name, backend="local", direction="uploaded") >= len(data)
    assert down - _value(before, name, backend="local", direction="downloaded") >= len(data)
    assert _value(after, "cordvault_queue_depth", queue="standard") == 0
    assert ("cordvault_queue_depth", frozenset({("queue", "premium")})) in after
    assert file_id not in text
    assert health["storage"] == {"backend": "local", "state": "ok"}
    assert health["queueDepth"] == {"premium": 0, "standard": 0}


def test_health_reports_an_unusable_local_store(db_url: str, data_dir: Path) -> None:
    blocked = data_dir / "not-a-dir"
    blocked.write_bytes(b"")  # the chunk store's root is a file: it cannot be opened
    settings = drive_settings(db_url, data_dir, storage_path=blocked)
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
    assert health["storage"] == {"backend": "local", "state": "unavailable"}


def test_discord_requests_429s_retries_and_url_cache(tmp_path: Path) -> None:
    with running_emulator(make_config()) as emu:
        settings = Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'drive.db'}",
            drive_catalog=False,
            storage_backend="discord",
            discord_api_base=emu.api_base,
            discord_bot_token=TOKEN,  # type: ignore[arg-type]
            discord_channel_ids=",".join(CHANNELS),
            drive_chunk_size=64 * 1024,
            message_encryption_key=base64.b64encode(secrets.token_bytes(32)).decode(),  # type: ignore[arg-type]
            drive_secret_key=secrets.token_urlsafe(48),  # type: ignore[arg-type]
            metrics_token=METRICS_TOKEN,  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings, domains=("cordvault.web.drive",))) as client:
            auth = _register(client)
            _text, before = _scrape(client)
            emu.add_fault(FaultRule("POST /channels/*/messages", "429", times=1, retry_after=0.05))
            data = os.urandom(200_000)
            _round_trip(client, auth, data)
            text, after = _scrape(client)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("cordvault_discord_requests_total", route=MESSAGES, status="200") >= 1
    assert delta("cordvault_discord_requests_total", route=MESSAGES, status="429") == 1
    assert delta("cordvault_discord_rate_limited_total", route=MESSAGES) == 1
    assert delta("cordvault_discord_retries_total", route=MESSAGES) >= 1
    assert delta("cordvault_discord_requests_total", route="GET cdn attachment", status="200") >= 1
    assert delta("cordvault_storage_bytes_total", backend="discord", direction="uploaded") >= len(
        data
    )
    assert delta("cordvault_storage_bytes_total", backend="discord", direction="downloaded") >= len(
        data
    )
    lookups = delta("cordvault_discord_url_cache_lookups_total", result="hit") + delta(
        "cordvault_discord_url_cache_lookups_total", result="miss"
    )
    assert lookups >= 1
    for secret in (*CHANNELS, TOKEN, emu.api_base):
        assert secret not in text


def test_job_step_durations(
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    settings = make_settings(metrics_token=METRICS_TOKEN, metrics_cache_seconds=0)
    package_server.files["m.zip"] = small_package
    upn = new_upn()
    app = create_app(settings, domains=("cordvault.web.insights",))
    with TestClient(app) as client:
        _text, before = _scrape(client)
        link = package_server.link("m.zip", upn)
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        assert wait_status(client, pid, upn, done, timeout=90)["isDataAvailable"] is True
        text, after = _scrape(client)
    name = "cordvault_job_step_duration_seconds_count"
    assert _value(after, name, step="DOWNLOADING") - _value(before, name, step="DOWNLOADING") == 1
    assert _value(after, name, step="ANALYZING") - _value(before, name, step="ANALYZING") == 1
    assert pid not in text
    assert upn not in text
