"""The scaled deployment, proven: two `cordvault serve` and two `cordvault worker` processes on
one PostgreSQL database, one Redis broker and S3 result blobs (moto's server), with the drive's
chunks and the keys in one shared DATA_DIR (what a shared volume gives containers).

Clients alternate between the two API processes. Mid-way one worker is killed with SIGKILL while
it downloads a package, and one API process is killed with SIGKILL while a drive upload streams
into it. At the end every job has been processed exactly once to completion (the killed one
twice: its lease expired and the other worker took it over), every result blob decrypts and
opens like the Dumpus client opens it, and every drive file reads back byte-identical from the
surviving API process. The interrupted upload left no file behind.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from tests.support import deployment as topology
from tests.support.deployment import Deployment, deployment_env
from tests.support.dumpus_client import decrypt_like_client, open_and_query
from tests.support.insights_server import PackageServer, bearer, new_upn
from tests.support.processes import account_token

from cordvault.db import create_engine_for, make_sessionmaker
from cordvault.insights.jobs import repository as repo

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def deployment(
    postgres_url: str,
    redis_url: str,
    s3_endpoint: str,
    data_dir: Path,
    package_server: PackageServer,
    tmp_path: Path,
) -> Iterator[Deployment]:
    broker = f"{redis_url.rsplit('/', 1)[0]}/{random.randint(1, 15)}"
    env = deployment_env(
        data_dir=data_dir,
        database_url=postgres_url,
        broker_url=broker,
        s3_endpoint=s3_endpoint,
        whitelisted=package_server.base + "/",
        ANALYZE_WORKERS="1",
        JOB_LEASE_SECONDS="3",
        DOWNLOAD_READ_TIMEOUT="5",
    )
    logdir = tmp_path / "logs"
    logdir.mkdir()
    made = Deployment(env, logdir)
    try:
        yield made
    finally:
        made.stop()


def _downloading_from(proc: subprocess.Popen[bytes], port: int) -> bool:
    """Whether the worker (or the analysis child it runs jobs in) is connected to ``port``."""
    try:
        root = psutil.Process(proc.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for member in family:
        try:
            conns = member.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.raddr and c.raddr.port == port for c in conns):
            return True
    return False


def _upload(base: str, token: str, path: str, data: bytes) -> str:
    r = httpx.put(
        f"{base}/api/drive/upload",
        params={"path": path},
        content=data,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    file_id: str = r.json()["file"]["id"]
    return file_id


def test_two_servers_two_workers_survive_kill_9(
    deployment: Deployment,
    package_server: PackageServer,
    small_package: Path,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    # The first API process creates the keys in DATA_DIR and migrates; the others read them.
    api_a, a = deployment.serve(topology.API_SERVICES[0])
    api_b, b = deployment.serve(topology.API_SERVICES[1])
    worker_1 = deployment.worker(topology.WORKER_SERVICES[0])
    worker_2 = deployment.worker(topology.WORKER_SERVICES[1])
    bases = [a, b]
    for base in bases:
        assert httpx.get(f"{base}/health").json()["queue"] == "celery"

    # Insights: the slow job first (a worker will be killed while it downloads), then three
    # more, submitted alternately to both API processes.
    jobs: dict[str, str] = {}  # package id -> UPN
    for name in ("slow.zip", "p1.zip", "p2.zip", "p3.zip"):
        package_server.files[name] = small_package
    port = int(package_server.base.rsplit(":", 1)[1])
    for i, name in enumerate(("slow.zip", "p1.zip", "p2.zip", "p3.zip")):
        upn = new_upn()
        link = package_server.link(name, upn, route="slow-once" if i == 0 else "pkg")
        answer = httpx.post(f"{bases[i % 2]}/process", json={"package_link": link}).json()
        assert answer["isAccepted"] is True, answer
        jobs[answer["packageId"]] = upn
        if i == 0:
            slow_id = answer["packageId"]
            deadline = time.monotonic() + 30
            holder = None
            while holder is None:
                assert time.monotonic() < deadline, "no worker started the download"
                holder = next((w for w in (worker_1, worker_2) if _downloading_from(w, port)), None)
                time.sleep(0.05)

    # kill -9 the worker in the middle of its (trickled) download; its lease expires and the other
    # worker redoes the job.
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    # Drive: files uploaded alternately through both API processes.
    alice = account_token(a, "alice")
    bob = account_token(b, "bob", admin=alice)
    files: dict[str, tuple[str, bytes]] = {}  # file id -> (owner token, content)
    for i in range(6):
        data = os.urandom(random.randint(1, 3) * 700_000)
        owner = alice if i % 2 == 0 else bob
        file_id = _upload(bases[i % 2], owner, f"/f{i}.bin", data)
        files[file_id] = (owner, data)

    # kill -9 API B while an upload streams into it.
    def slow_body() -> Iterator[bytes]:
        yield os.urandom(1_000_000)
        api_b.send_signal(signal.SIGKILL)
        api_b.wait()
        yield os.urandom(1_000_000)

    with pytest.raises(httpx.TransportError):
        httpx.put(
            f"{b}/api/drive/upload",
            params={"path": "/interrupted.bin"},
            content=slow_body(),
            headers={"Authorization": f"Bearer {alice}"},
            timeout=30,
        )
    # The client retries on the surviving process.
    data = os.urandom(1_500_000)
    files[_upload(a, alice, "/retried.bin", data)] = (alice, data)

    # Every job completes; every blob opens like the client opens it.
    deadline = time.monotonic() + 90
    pending = set(jobs)
    while pending:
        assert time.monotonic() < deadline, f"jobs never finished: {pending}\n{deployment.logs()}"
        for pid in sorted(pending):
            body = httpx.get(f"{a}/process/{pid}/status", headers=bearer(jobs[pid])).json()
            assert not body["isErrored"], body
            if body["isDataAvailable"]:
                pending.discard(pid)
        time.sleep(0.5)
    for pid, upn in jobs.items():
        meta = httpx.get(f"{a}/process/{pid}/blob", headers=bearer(upn)).json()
        assert meta["url"].startswith(deployment.env["S3_ENDPOINT_URL"])
        blob = httpx.get(meta["url"])
        assert blob.status_code == 200
        plain = decrypt_like_client(blob.content, meta["iv"], upn)
        assert open_and_query(plain, tmp_path)["owner"][0] == pid

    # Processed once: one attempt each, two for the job whose worker was killed.
    engine = create_engine_for(postgres_url)
    try:
        with make_sessionmaker(engine)() as session:
            attempts = {}
            for pid in jobs:
                job = repo.get(session, pid)
                assert job is not None
                attempts[pid] = job.attempts
    finally:
        engine.dispose()
    assert attempts == {pid: 2 if pid == slow_id else 1 for pid in jobs}
    assert package_server.hits.count("GET /slow-once/slow.zip") == 2
    for name in ("p1.zip", "p2.zip", "p3.zip"):
        assert package_server.hits.count(f"GET /pkg/{name}") == 1

    # Every file reads back intact from the surviving process; the interrupted one is absent.
    for file_id, (owner, content) in files.items():
        r = httpx.get(
            f"{a}/api/drive/files/{file_id}/content",
            headers={"Authorization": f"Bearer {owner}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.content == content
    for path, expected in (("/interrupted.bin", 404), ("/retried.bin", 200)):
        r = httpx.get(
            f"{a}/api/drive/resolve",
            params={"path": path},
            headers={"Authorization": f"Bearer {alice}"},
        )
        assert r.status_code == expected, r.text
    assert api_a.poll() is None
