"""`cordvault serve` answers over real HTTP; `cordvault upgrade` moves a package to premium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.support.insights_server import bearer, insights_client, new_upn
from tests.support.processes import free_port, wait_healthy

from cordvault.core.settings import Settings


def test_serve_runs_the_api(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    for name in ("DATABASE_URL", "POSTGRES_URL", "BROKER_URL", "REDIS_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cordvault", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(
            proc, base, logs=lambda: proc.stderr.read() if proc.stderr else "", timeout=30
        )
        assert health.json()["status"] == "alive"
        assert health.json()["queue"] == "inprocess"
        assert httpx.get(f"{base}/docs").status_code == 200
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/process/{package_id}/status" in paths
        assert "/process" in paths
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (data_dir / "cordvault.db").exists()


def test_upgrade_command(make_settings: Callable[..., Settings], data_dir: Path) -> None:
    settings = make_settings()
    client = insights_client(settings)
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "cordvault", "upgrade", pid],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert client.get(f"/process/{pid}/status", headers=bearer(upn)).json()["isUpgraded"]
    unknown = subprocess.run(
        [sys.executable, "-m", "cordvault", "upgrade", "0" * 32],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 5
    assert "UNKNOWN_PACKAGE_ID" in unknown.stderr
