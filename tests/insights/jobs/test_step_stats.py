"""The shared job step histogram: concurrent writers add up (SQLite and PostgreSQL), the export
is cumulative, and ``/metrics`` reuses its database read for ``METRICS_CACHE_SECONDS``."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.drive.conftest import drive_settings

from cordvault.core.metrics import JOB_STEP_BUCKETS
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.insights.jobs import repository as repo
from cordvault.web.app import create_app

TOKEN = "metrics-token-5e8a1c3f9d2b"


def test_concurrent_writers_add_up_and_export_is_cumulative(db_url: str) -> None:
    migrate(db_url)
    engine = create_engine_for(db_url)
    sessions = make_sessionmaker(engine)
    try:
        durations = [0.05, 0.3, 0.3, 7.0, 4000.0]  # buckets 0.1, 0.5, 0.5, 10, +Inf

        def write(seconds: float) -> None:
            for _ in range(4):
                with sessions.begin() as db:
                    repo.record_step(db, "DOWNLOADING", seconds, JOB_STEP_BUCKETS)

        threads = [threading.Thread(target=write, args=(s,)) for s in durations]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with sessions() as db:
            (histogram,) = repo.step_histograms(db, JOB_STEP_BUCKETS)
    finally:
        engine.dispose()
    cumulative = dict(histogram.buckets)
    assert histogram.step == "DOWNLOADING"
    assert list(cumulative)[-1] == "+Inf"
    assert len(cumulative) == len(JOB_STEP_BUCKETS) + 1
    assert cumulative["0.1"] == 4
    assert cumulative["0.5"] == 12
    assert cumulative["5"] == 12
    assert cumulative["10"] == 16
    assert cumulative["1800"] == 16
    assert cumulative["+Inf"] == 20
    assert abs(histogram.sum_seconds - 4 * sum(durations)) < 1e-6


def _count(client: TestClient, step: str) -> float:
    page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            name = sample.name
            if (
                name == "cordvault_job_step_duration_seconds_count"
                and sample.labels["step"] == step
            ):
                return sample.value
    return 0.0


def test_scrapes_reuse_the_database_read_for_the_cache_time(
    sqlite_url: str, data_dir: Path
) -> None:
    def record() -> None:
        engine = create_engine_for(sqlite_url)
        with make_sessionmaker(engine).begin() as db:
            repo.record_step(db, "ANALYZING", 1.0, JOB_STEP_BUCKETS)
        engine.dispose()

    cached = drive_settings(sqlite_url, data_dir, metrics_token=TOKEN, metrics_cache_seconds=300)
    with TestClient(create_app(cached)) as client:
        assert _count(client, "ANALYZING") == 0
        record()
        assert _count(client, "ANALYZING") == 0  # the cached read
    fresh = drive_settings(sqlite_url, data_dir, metrics_token=TOKEN, metrics_cache_seconds=0)
    with TestClient(create_app(fresh)) as client:
        assert _count(client, "ANALYZING") == 1
        record()
        assert _count(client, "ANALYZING") == 2
