"""Job state machine, queue positions, transit sealing, cancellation and crash recovery."""

from __future__ import annotations

import base64
import os
import signal
import stat
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
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
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs import service
from cordvault.insights.jobs.package_links import package_id_for
from cordvault.insights.jobs.states import JobState
from cordvault.insights.transit import TransitKey

ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789"}


def _discord_link(upn: str) -> str:
    return f"https://click.discord.com/ls/click?upn={upn}"


def test_queue_positions_premium_and_standard(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    client = insights_client(make_settings(db_url))  # no lifespan: nothing runs
    upns = [new_upn() for _ in range(4)]
    ids = []
    for upn in upns:
        ids.append(
            client.post("/process", json={"package_link": _discord_link(upn)}).json()["packageId"]
        )
        time.sleep(0.01)  # distinct queued_at
    # The third joins the premium queue.
    assert client.post(f"/admin/process/{ids[2]}/upgrade", headers=ADMIN).status_code == 200

    def position(i: int) -> dict[str, int]:
        body = client.get(f"/process/{ids[i]}/status", headers=bearer(upns[i])).json()
        assert body["processingStep"] == "LOCKED"
        return dict(body["processingQueuePosition"])

    first, second, premium, fourth = (position(i) for i in range(4))
    assert premium["premiumQueueUser"] == 0
    assert premium["user"] == 0
    assert premium["premiumQueueTotal"] == 1
    assert premium["standardQueueTotal"] == 3
    assert (first["standardQueueUser"], second["standardQueueUser"]) == (0, 1)
    assert fourth["standardQueueUser"] == 2
    # Standard jobs wait for every premium one.
    assert (first["premiumQueueUser"], first["user"]) == (1, 1)
    assert fourth["user"] == 3
    assert fourth["total"] == 4
    # When-joined totals are the queue sizes at submission.
    assert (first["standardWhenJoined"], second["standardWhenJoined"]) == (0, 1)
    assert fourth["standardWhenJoined"] == 3
    assert premium["standardWhenJoined"] == 2

    # Workers claim premium first, then standard in order of arrival.
    engine = create_engine_for(db_url)
    sessions = make_sessionmaker(engine)
    order = []
    for _ in range(4):
        with sessions.begin() as session:
            claimed = repo.claim_next(
                session, token=os.urandom(8).hex(), lease_seconds=30, now=repo.utcnow()
            )
            assert claimed is not None
            order.append(claimed.package_id)
    assert order == [ids[2], ids[0], ids[1], ids[3]]
    # Running jobs still count in the queue; finished ones do not.
    body = client.get(f"/process/{ids[3]}/status", headers=bearer(upns[3])).json()
    assert body["processingStep"] == "DOWNLOADING"
    assert body["processingQueuePosition"]["standardQueueUser"] == 2
    engine.dispose()


def test_lost_jobs_are_retried_then_failed(db_url: str) -> None:
    migrate(db_url)
    engine = create_engine_for(db_url)
    sessions = make_sessionmaker(engine)
    transit = TransitKey(os.urandom(32))
    upn = new_upn()
    with sessions.begin() as session:
        submitted = service.submit_link(session, transit, _discord_link(upn), [])
    pid = submitted.package_id
    now = repo.utcnow()
    for attempt in (1, 2):
        with sessions.begin() as session:
            claimed = repo.claim_next(session, token=f"t{attempt}", lease_seconds=5, now=now)
            assert claimed is not None
            assert claimed.attempts == attempt
        # Heartbeats stop; later the reaper sees the lease expired.
        now += timedelta(seconds=10)
        with sessions.begin() as session:
            changed = repo.reap_expired(session, max_attempts=2, now=now)
        expected = JobState.LOCKED if attempt == 1 else JobState.ERRORED
        assert changed == [(pid, expected)]
        # The dead attempt can no longer move the job on.
        with sessions.begin() as session:
            assert not repo.heartbeat(session, pid, f"t{attempt}", lease_seconds=5, now=now)
    with sessions() as session:
        job = repo.get(session, pid)
        assert job is not None
        assert job.error_code == "WORKER_LOST"
        assert job.sealed_secret is None  # wiped when the job ended
    engine.dispose()


def test_transit_key_seals_per_package(data_dir: Path) -> None:
    key = TransitKey.from_settings(Settings(data_dir=data_dir))
    path = data_dir / "transit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TransitKey.from_settings(Settings(data_dir=data_dir)).derive("x") == key.derive("x")
    sealed = key.seal(b"secret link", package_id="a", purpose="p")
    assert b"secret link" not in sealed
    assert key.unseal(sealed, package_id="a", purpose="p") == b"secret link"
    for kwargs in ({"package_id": "b", "purpose": "p"}, {"package_id": "a", "purpose": "q"}):
        with pytest.raises(CordvaultError) as info:
            key.unseal(sealed, **kwargs)
        assert info.value.code == ErrorCode.CORRUPT_BLOB
    other = TransitKey.from_settings(
        Settings(data_dir=data_dir, transit_key=base64.b64encode(os.urandom(32)).decode())
    )
    with pytest.raises(CordvaultError):
        other.unseal(sealed, package_id="a", purpose="p")
    with pytest.raises(CordvaultError) as bad:
        TransitKey.from_settings(Settings(data_dir=data_dir, transit_key="not base64!"))
    assert bad.value.code == ErrorCode.INVALID_SETTINGS


def test_errored_download_reports_code_and_can_be_resubmitted(
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    upn = new_upn()
    with insights_client(make_settings()) as client:
        pid = client.post(
            "/process", json={"package_link": package_server.link("later.zip", upn)}
        ).json()["packageId"]
        body = wait_status(client, pid, upn, done)
        assert body["isErrored"] is True
        assert body["errorMessageCode"] == "EXPIRED_LINK"
        # Resubmitting an errored package queues it again.
        package_server.files["later.zip"] = small_package
        client.post("/process", json={"package_link": package_server.link("later.zip", upn)})
        body = wait_status(client, pid, upn, done)
        assert body["isDataAvailable"] is True


def test_delete_cancels_a_running_job_and_removes_the_blob(
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    settings = make_settings()
    upn = new_upn()
    package_server.files["p.zip"] = small_package
    with insights_client(settings) as client:
        state = client.app.state.services  # type: ignore[attr-defined]
        runner = state.queue.runner
        link = package_server.link("p.zip", upn, route="slow-once")
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        wait_status(client, pid, upn, lambda b: b["processingStep"] == "DOWNLOADING")
        deadline = time.monotonic() + 10
        while pid not in runner.running_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = runner.running_pids()[pid]
        deleted = client.delete(f"/process/{pid}", headers=bearer(upn))
        assert deleted.json() == {"isDeleted": True, "errorMessageCode": None}
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
        status = client.get(f"/process/{pid}/status", headers=bearer(upn)).json()
        assert status["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
        _wait_no_workdirs(settings, pid)

        # Now let it finish, then delete: the blob file goes too.
        client.post("/process", json={"package_link": package_server.link("p.zip", upn)})
        assert wait_status(client, pid, upn, done)["isDataAvailable"] is True
        blobs = list((settings.data_dir / "blobs" / pid).glob("*.bin"))
        assert len(blobs) == 1
        url = client.get(f"/process/{pid}/blob", headers=bearer(upn)).json()["url"]
        client.delete(f"/process/{pid}", headers=bearer(upn))
        assert not blobs[0].exists()
        assert client.get(url).status_code == 404
        assert client.get(f"/process/{pid}/blob", headers=bearer(upn)).status_code == 404


def test_killed_analysis_process_is_retried_and_completes(
    db_url: str,
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    settings = make_settings(db_url)
    upn = new_upn()
    package_server.files["k.zip"] = small_package
    with insights_client(settings) as client:
        runner = client.app.state.services.queue.runner  # type: ignore[attr-defined]
        link = package_server.link("k.zip", upn, route="slow-once")
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        deadline = time.monotonic() + 15
        while pid not in runner.running_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(runner.running_pids()[pid], signal.SIGKILL)
        body = wait_status(client, pid, upn, done)
        assert body["isDataAvailable"] is True, body
    engine = create_engine_for(settings.effective_database_url)
    with make_sessionmaker(engine)() as session:
        job = repo.get(session, pid)
        assert job is not None
        assert job.attempts == 2
        assert job.sealed_secret is None
    engine.dispose()
    _wait_no_workdirs(settings, pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers; check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_no_workdirs(settings: Settings, pid: str) -> None:
    root = settings.data_dir / "tmp"
    deadline = time.monotonic() + 10
    while any(root.glob(f"{pid}.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(root.glob(f"{pid}.*"))


def test_deletion_seen_by_heartbeat_aborts_the_attempt(
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    """A worker elsewhere (Celery) learns of a DELETE only through its failing heartbeat."""
    settings = make_settings()
    upn = new_upn()
    package_server.files["h.zip"] = small_package
    with insights_client(settings) as client:
        state = client.app.state.services  # type: ignore[attr-defined]
        runner = state.queue.runner
        link = package_server.link("h.zip", upn, route="slow-once")
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        deadline = time.monotonic() + 15
        while pid not in runner.running_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = runner.running_pids()[pid]
        # Delete in the database only, as another API process would: no direct cancel call.
        with state.jobs.sessions.begin() as session:
            service.delete(session, pid)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
        _wait_no_workdirs(settings, pid)
        status = client.get(f"/process/{pid}/status", headers=bearer(upn)).json()
        assert status["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"


def test_concurrent_submissions_while_workers_write(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    """Many POSTs at once while workers claim and fail jobs: every one answered, none lost."""
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings(db_url, inprocess_workers=2)
    upns = [new_upn() for _ in range(60)]
    with insights_client(settings) as client:

        def submit(upn: str) -> int:
            # Unresolvable for the workers (no network): each job errors quickly, so claims
            # and state writes race with the submissions.
            link = _discord_link(upn)
            return client.post("/process", json={"package_link": link}).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(submit, upns))
        assert codes == [200] * len(upns)
        for upn in upns[:5]:
            body = client.get(f"/process/{package_id_for(upn)}/status", headers=bearer(upn))
            assert body.status_code == 200
            assert body.json()["errorMessageCode"] != "UNKNOWN_PACKAGE_ID"


def test_failed_downloads_and_bad_packages_show_their_codes(
    make_settings: Callable[..., Settings], package_server: PackageServer, tmp_path: Path
) -> None:
    """What the client sees in /status for each way a job can fail (never a crash)."""
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"definitely not a zip file" * 100)
    package_server.files["garbage.zip"] = garbage
    package_server.trickle_delay = 0.3
    settings = make_settings(
        inprocess_workers=3, download_total_timeout=2.0, download_max_bytes=2_000_000
    )
    cases = {
        "/expired": "EXPIRED_LINK",
        "/html": "INVALID_LINK",
        "/loop": "INVALID_LINK",
        "/to-private": "INVALID_LINK",
        "/slow": "DOWNLOAD_TIMEOUT",
        "/huge": "PACKAGE_TOO_LARGE",
        "/pkg/garbage.zip": "NOT_A_ZIP",
    }
    with insights_client(settings) as client:
        jobs = {}
        for path, code in cases.items():
            upn = new_upn()
            link = f"{package_server.base}{path}?upn={upn}"
            pid = client.post("/process", json={"package_link": link}).json()["packageId"]
            jobs[pid] = (upn, code)
        for pid, (upn, code) in jobs.items():
            body = wait_status(client, pid, upn, done)
            assert body["isErrored"] is True
            assert body["errorMessageCode"] == code, (code, body)
            # The client's types know no ERRORED step: it stays at the step that failed.
            expected_step = "ANALYZING" if code == "NOT_A_ZIP" else "DOWNLOADING"
            assert body["processingStep"] == expected_step
    assert not any((settings.data_dir / "tmp").glob("*.*"))
