"""Insights server test fixtures (a pytest plugin, see tests/conftest.py): a local package
server, generated packages, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.deployment import moto_s3
from tests.support.insights_server import PackageServer, running_package_server

from cordvault.core.settings import Settings
from cordvault.insights.generator import GenOptions, generate_package


@pytest.fixture
def package_server() -> Iterator[PackageServer]:
    """A threaded HTTP server on 127.0.0.1 (port 0) serving packages and faults."""
    with running_package_server() as state:
        yield state


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (server mode, real HTTP) with an empty bucket ``blobs``."""
    with moto_s3("blobs") as url:
        yield url


@pytest.fixture(scope="session")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated package (shared by the session; never modified)."""
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    generate_package(path, GenOptions(variant="modern", seed=3, messages=300, events=600))
    return path


@pytest.fixture
def make_settings(data_dir: Path, package_server: PackageServer) -> Callable[..., Settings]:
    """Settings for one test: its data dir, a DB URL, the package server whitelisted."""

    def make(db_url: str | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": db_url,
            "broker_url": None,
            "dl_zip_whitelisted_domains": package_server.base + "/",
            "analyze_workers": 1,
            "job_lease_seconds": 5,
            "download_read_timeout": 5.0,
            "admin_token": "admin-token-for-tests-0123456789",
            "discord_bot_token": None,
        }
        values.update(overrides)
        return Settings(**values)

    return make
