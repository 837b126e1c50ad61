"""The scaled deployment, in one place: its topology (what ``tests/runtime/test_deployment.py``
starts, and what ``Dockerfile`` and ``compose.yaml`` must start too:
``tests/runtime/test_container_files.py`` parses both files and asserts they say the same) and
the pieces the deployment test and ``benchmarks/load.py`` share: a scratch PostgreSQL database,
moto's S3 server with a bucket, and :class:`Deployment`, which starts ``cordvault serve`` /
``cordvault worker`` processes with one environment and kills every one of them at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer
from sqlalchemy import create_engine, text
from tests.support.processes import free_port, wait_healthy

# Every process is `python -m cordvault ARGS` (the image's ENTRYPOINT is this with its venv's
# python first on PATH).
ENTRYPOINT_ARGS = ("-m", "cordvault")

# The API processes and the workers, by name: the test's log files and compose's services.
API_SERVICES = ("api-1", "api-2")
WORKER_SERVICES = ("worker-1", "worker-2")

# The first API process starts alone: it creates the key files in the shared DATA_DIR and
# applies the database migrations; the other processes start once it answers /health.
FIRST_API = API_SERVICES[0]

# A worker runs one job at a time (the jobs run in a child process it supervises).
WORKER_ARGS = ("worker", "--concurrency", "1")


def serve_args(host: str, port: int) -> list[str]:
    """The arguments of one API process listening on ``host:port``."""
    return ["serve", "--host", host, "--port", str(port)]


# Settings every process of the deployment gets (values differ: hosts, credentials) ...
DEPLOYMENT_ENV = (
    "DATA_DIR",
    "DATABASE_URL",
    "BROKER_URL",
    "STORAGE_BACKEND",
    "BLOB_STORE",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
)
# ... of which these have the same value everywhere: chunks in the shared DATA_DIR volume,
# result blobs in S3.
FIXED_ENV = {"STORAGE_BACKEND": "local", "BLOB_STORE": "s3"}

S3_KEYS = {"S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test"}


@contextlib.contextmanager
def moto_s3(bucket: str = "blobs") -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with an empty ``bucket``; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["S3_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    try:
        yield url
    finally:
        server.stop()


@contextlib.contextmanager
def scratch_postgres(admin_url: str, host: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards); yields its URL."""
    name = f"cv_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@{host}:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def deployment_env(
    *,
    data_dir: Path,
    database_url: str,
    broker_url: str,
    s3_endpoint: str,
    whitelisted: str,
    **extra: str,
) -> dict[str, str]:
    """The environment every process of the deployment shares: PostgreSQL, a Redis broker,
    S3 result blobs, the drive's chunks and keys in one shared ``DATA_DIR``; ``extra`` last."""
    env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_URL", "REDIS_URL")}
    deployed = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        **FIXED_ENV,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_BUCKET": "blobs",
        **S3_KEYS,
    }
    assert sorted(deployed) == sorted(DEPLOYMENT_ENV)  # what compose.yaml sets too
    env.update(deployed)
    # Test-only: a whitelisted local package server.
    env["DL_ZIP_WHITELISTED_DOMAINS"] = whitelisted
    env.update(extra)
    return env


class Deployment:
    """The processes of one deployment; every one is killed at the end whatever happened."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *ENTRYPOINT_ARGS, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def serve(self, name: str) -> tuple[subprocess.Popen[bytes], str]:
        """Start ``cordvault serve`` on a free port; returns it once ``/health`` answers."""
        port = free_port()
        proc = self._spawn(name, serve_args("127.0.0.1", port))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(proc, base, logs=self.logs)
        return proc, base

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``cordvault worker --concurrency 1``."""
        return self._spawn(name, list(WORKER_ARGS))

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
