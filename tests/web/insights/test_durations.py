"""``GET /insights/typical-durations``: how long similar jobs took, from the step histogram the
job runner records and the times of recently processed jobs, over real HTTP and a real
database (SQLite and PostgreSQL). Aggregates only: no package id in the answer, a figure drawn
from too few jobs withheld."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.support.insights_server import insights_client

from cordvault.core.metrics import JOB_STEP_BUCKETS
from cordvault.core.settings import Settings
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.durations import MIN_JOBS, RECENT_JOBS, histogram_median
from cordvault.insights.jobs.models import PackageJob
from cordvault.runtime import Services

START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client(db_url: str, make_settings: Callable[..., Settings]) -> TestClient:
    return insights_client(make_settings(db_url))


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def _steps(client: TestClient, step: str, seconds: list[float]) -> None:
    """What the job runner records when a step ends (the same repository call)."""
    with _services(client).jobs.sessions.begin() as session:
        for s in seconds:
            repo.record_step(session, step, s, JOB_STEP_BUCKETS)


def _job(
    client: TestClient, n: int, wait: float, run: float, *, state: str = "PROCESSED", age: int = 0
) -> str:
    """A finished job: queued, started ``wait`` s later, finished ``run`` s after that."""
    queued = START + timedelta(hours=n) - timedelta(days=age)
    package_id = f"{n:032x}"
    with _services(client).jobs.sessions.begin() as session:
        session.add(
            PackageJob(
                package_id=package_id,
                state=state,
                is_upgraded=False,
                source="upload",
                queued_at=queued,
                started_at=queued + timedelta(seconds=wait),
                finished_at=queued + timedelta(seconds=wait + run),
            )
        )
    return package_id


def test_nothing_measured_yet(client: TestClient) -> None:
    body = client.get("/insights/typical-durations").json()
    assert body == {
        "steps": {
            "LOCKED": {"typicalSeconds": None, "jobs": 0},
            "DOWNLOADING": {"typicalSeconds": None, "jobs": 0},
            "ANALYZING": {"typicalSeconds": None, "jobs": 0},
        },
        "total": {"typicalSeconds": None, "jobs": 0},
        "minimumJobs": MIN_JOBS,
        "recentJobs": RECENT_JOBS,
    }


def test_medians_per_step_and_in_total(client: TestClient) -> None:
    # DOWNLOADING: 1.2 s (bucket <= 2.5), 3 and 4 s (bucket <= 5), 40 s, 700 s. The median (the
    # 3rd of 5) is in the <= 5 bucket, estimated by that bucket's mean: (3 + 4) / 2.
    _steps(client, "DOWNLOADING", [1.2, 3.0, 4.0, 40.0, 700.0])
    _steps(client, "ANALYZING", [11.0, 12.0, 13.6])  # one bucket (10, 30]: its mean
    # Four processed jobs: waits 5, 1, 30, 2 (median 3.5); totals 65, 21, 90, 12 (median 43).
    ids = [
        _job(client, 1, wait=5, run=60),
        _job(client, 2, wait=1, run=20),
        _job(client, 3, wait=30, run=60),
        _job(client, 4, wait=2, run=10),
    ]
    # Unfinished or failed jobs are no example of "how long it took".
    ids.append(_job(client, 5, wait=9000, run=9000, state="ERRORED"))
    response = client.get("/insights/typical-durations")
    assert response.status_code == 200
    body = response.json()
    assert body["steps"]["DOWNLOADING"] == {"typicalSeconds": 3.5, "jobs": 5}
    assert body["steps"]["ANALYZING"] == {"typicalSeconds": 12.2, "jobs": 3}  # 36.6 / 3
    assert body["steps"]["LOCKED"] == {"typicalSeconds": 3.5, "jobs": 4}
    assert body["total"] == {"typicalSeconds": 43.0, "jobs": 4}
    for package_id in ids:  # nothing identifying
        assert package_id not in response.text


def test_too_few_jobs_are_withheld(client: TestClient) -> None:
    _steps(client, "ANALYZING", [7.0] * (MIN_JOBS - 1))
    _job(client, 1, wait=3, run=30)
    body = client.get("/insights/typical-durations").json()
    assert body["steps"]["ANALYZING"] == {"typicalSeconds": None, "jobs": MIN_JOBS - 1}
    assert body["total"] == {"typicalSeconds": None, "jobs": 1}


def test_the_total_is_over_recent_jobs_only(client: TestClient) -> None:
    # Many old slow jobs, then RECENT_JOBS quick ones: only the quick ones count.
    for n in range(RECENT_JOBS + 10):
        _job(client, n, wait=100, run=1000, age=30)
    for n in range(RECENT_JOBS):
        _job(client, 1000 + n, wait=1, run=9)
    body = client.get("/insights/typical-durations").json()
    assert body["total"] == {"typicalSeconds": 10.0, "jobs": RECENT_JOBS}
    assert body["steps"]["LOCKED"] == {"typicalSeconds": 1.0, "jobs": RECENT_JOBS}


@pytest.mark.parametrize(
    ("buckets", "median"),
    [
        ([], None),
        ([("1", 1, 0.5)], 0.5),
        # Ranks 1-2 in <= 5 (mean 4), rank 3 in <= 10 (mean 8): the lower median of 4 is rank 2.
        ([("5", 2, 8.0), ("10", 2, 16.0)], 4.0),
        # Above every bound: the +Inf bucket's own mean.
        ([("1800", 1, 100.0), ("+Inf", 2, 8000.0)], 4000.0),
        # Stored in any order, empty buckets skipped.
        ([("+Inf", 0, 0.0), ("60", 3, 120.0), ("30", 0, 0.0)], 40.0),
    ],
)
def test_histogram_median(buckets: list[tuple[str, int, float]], median: float | None) -> None:
    assert histogram_median(buckets) == median
