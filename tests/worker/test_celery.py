"""Celery + Redis: real `cordvault worker` processes, the client flow, a secrets scan, kill -9."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.support.dumpus_client import decrypt_like_client, fetch_blob, open_and_query
from tests.support.insights_server import (
    PackageServer,
    bearer,
    done,
    dump_tables,
    insights_client,
    new_upn,
    wait_status,
)

from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.package_links import package_id_for

pytestmark = pytest.mark.redis

METRICS_TOKEN = "metrics-token-7c1d9e2a4b6f"


@pytest.fixture
def broker_url(redis_url: str) -> str:
    """A Redis database of its own, so parallel runs never consume each other's wake-ups."""
    base = redis_url.rsplit("/", 1)[0]
    return f"{base}/{random.randint(1, 15)}"


class Workers:
    """Starts and kills `cordvault worker` subprocesses; keeps their logs."""

    def __init__(self, settings: Settings, logdir: Path) -> None:
        self.settings = settings
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        s = self.settings
        env = {
            **os.environ,
            "DATA_DIR": str(s.data_dir),
            "DATABASE_URL": s.effective_database_url,
            "BROKER_URL": str(s.broker_url),
            "DL_ZIP_WHITELISTED_DOMAINS": s.dl_zip_whitelisted_domains,
            "ANALYZE_WORKERS": "1",
            "JOB_LEASE_SECONDS": str(s.job_lease_seconds),
            "DEBUG_LOGGING": "1",
        }
        log = (self.logdir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cordvault", "worker", "--concurrency", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logdir.glob("worker-*.log"))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=3)  # idle workers stop at once; do not wait for slow closes
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers_for(tmp_path: Path) -> Iterator[Callable[[Settings], Workers]]:
    made: list[Workers] = []

    def make(settings: Settings) -> Workers:
        logdir = tmp_path / "worker-logs"
        logdir.mkdir(exist_ok=True)
        workers = Workers(settings, logdir)
        made.append(workers)
        return workers

    yield make
    for workers in made:
        workers.stop_all()


class RedisMonitor:
    """Records every command Redis sees (MONITOR) while the test runs."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            for event in monitor.listen():
                self.lines.append(str(event.get("command", "")))
                if self._stop.is_set():
                    break

    def __enter__(self) -> RedisMonitor:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self.client.ping()  # one more command unblocks listen()
        self._thread.join(timeout=5)
        self.client.close()


def test_client_flow_with_celery_workers_and_secrets_scan(
    db_url: str,
    broker_url: str,
    make_settings: Callable[..., Settings],
    workers_for: Callable[[Settings], Workers],
    package_server: PackageServer,
    small_package: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(db_url, broker_url=broker_url)
    upn = new_upn()
    link = package_server.link("c.zip", upn)
    package_server.files["c.zip"] = small_package
    workers = workers_for(settings)
    with RedisMonitor(broker_url) as monitor, insights_client(settings) as client:
        workers.start()
        answer = client.post("/process", json={"package_link": link}).json()
        pid = answer["packageId"]
        assert answer["isAccepted"] is True
        assert pid == package_id_for(upn)
        body = wait_status(client, pid, upn, done, timeout=90, interval=1.0)
        assert body["isDataAvailable"] is True, body
        meta = client.get(f"/process/{pid}/blob", headers=bearer(upn)).json()
        plain = decrypt_like_client(fetch_blob(client, meta["url"]), meta["iv"], upn)
        assert open_and_query(plain, tmp_path)["owner"][0] == pid
        assert client.get("/health").json()["queue"] == "celery"
    workers.stop_all()

    secrets = [upn, link, upn[:64]]
    broker_traffic = "\n".join(monitor.lines)
    assert pid in broker_traffic  # the monitor did see our task (ids only)
    worker_logs = workers.logs()
    assert "processed" in worker_logs
    captured = caplog.text
    disk = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    tables = dump_tables(settings.effective_database_url)
    for secret in secrets:
        assert secret not in broker_traffic
        assert secret not in worker_logs
        assert secret not in captured
        assert secret.encode() not in disk
        assert secret not in tables


def test_killed_worker_job_is_retried_by_another_worker(
    broker_url: str,
    make_settings: Callable[..., Settings],
    workers_for: Callable[[Settings], Workers],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    settings = make_settings(broker_url=broker_url, job_lease_seconds=3)
    upn = new_upn()
    package_server.files["k.zip"] = small_package
    workers = workers_for(settings)
    with insights_client(settings) as client:
        first = workers.start()
        link = package_server.link("k.zip", upn, route="slow-once")
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        wait_status(client, pid, upn, lambda b: b["processingStep"] == "DOWNLOADING", timeout=60)
        children = _children(first.pid)
        first.send_signal(signal.SIGKILL)
        first.wait()
        workers.start()
        body = wait_status(client, pid, upn, done, timeout=90, interval=0.5)
        assert body["isDataAvailable"] is True, body
    engine = create_engine_for(settings.effective_database_url)
    with make_sessionmaker(engine)() as session:
        job = repo.get(session, pid)
        assert job is not None
        assert job.attempts == 2
    engine.dispose()
    # The killed worker's analysis process exited with it; its work dir is gone.
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children)
    assert not any((settings.data_dir / "tmp").glob(f"{pid}.*"))


def _children(pid: int) -> list[int]:
    import psutil

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = [p.pid for p in psutil.Process(pid).children(recursive=True)]
        if kids:
            return kids
        time.sleep(0.1)
    return []


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_client_flow_with_rabbitmq_broker(
    make_settings: Callable[..., Settings],
    workers_for: Callable[[Settings], Workers],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        if os.environ.get("CORDVAULT_REQUIRE_SERVICES") == "1":
            pytest.fail("RabbitMQ is required in CI but 127.0.0.1:5672 is unreachable")
        pytest.skip("RabbitMQ not reachable")
    settings = make_settings(broker_url="amqp://guest:guest@127.0.0.1:5672//")
    upn = new_upn()
    package_server.files["r.zip"] = small_package
    workers = workers_for(settings)
    with insights_client(settings) as client:
        workers.start()
        link = package_server.link("r.zip", upn)
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        body = wait_status(client, pid, upn, done, timeout=90, interval=1.0)
        assert body["isDataAvailable"] is True, body


def _step_counts(client: TestClient) -> dict[str, float]:
    """``cordvault_job_step_duration_seconds_count`` per step, from one ``/metrics`` scrape."""
    page = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert page.status_code == 200, page.text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            if sample.name == "cordvault_job_step_duration_seconds_count":
                counts[sample.labels["step"]] = sample.value
    return counts


def test_step_durations_from_a_celery_worker_reach_every_api_process(
    broker_url: str,
    make_settings: Callable[..., Settings],
    workers_for: Callable[[Settings], Workers],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    """The job runs in a `cordvault worker` process; the API processes (which ran nothing)
    still export its step durations, read from the shared database."""
    settings = make_settings(
        broker_url=broker_url, metrics_token=METRICS_TOKEN, metrics_cache_seconds=0
    )
    upn = new_upn()
    package_server.files["m.zip"] = small_package
    workers = workers_for(settings)
    with insights_client(settings) as client:
        assert _step_counts(client) == {}
        workers.start()
        link = package_server.link("m.zip", upn)
        pid = client.post("/process", json={"package_link": link}).json()["packageId"]
        assert wait_status(client, pid, upn, done, timeout=90)["isDataAvailable"] is True
        assert _step_counts(client) == {"DOWNLOADING": 1, "ANALYZING": 1}
        text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert "processed" in workers.logs()
    with insights_client(settings) as other:  # a second API process sees the same histogram
        assert _step_counts(other) == {"DOWNLOADING": 1, "ANALYZING": 1}
    for secret in (pid, upn, link, str(broker_url)):
        assert secret not in text
