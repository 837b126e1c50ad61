"""Shared fixtures: real SQLite and PostgreSQL databases, Redis, temp data dirs.

PostgreSQL and Redis tests are never skipped when ``CORDVAULT_REQUIRE_SERVICES=1`` (set by
``make test``, hence in CI): an unreachable service is then a failure, not a skip.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures shared across test packages (the insights server's package server, packages and
# settings are used by tests/insights, tests/web, tests/worker and tests/cli).
pytest_plugins = ["tests.support.insights_fixtures"]

PG_HOST = os.environ.get("CORDVAULT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
REDIS_URL = os.environ.get("CORDVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need_service(name: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    if os.environ.get("CORDVAULT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required in CI but {host}:{port} is unreachable")
    pytest.skip(f"{name} not reachable at {host}:{port}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty DATA_DIR for one test."""
    d = tmp_path / "data"
    d.mkdir(mode=0o700)  # as the app creates it (an open one is reported at start)
    return d


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _need_service("PostgreSQL", PG_HOST, 5432)
    from tests.support.deployment import scratch_postgres

    with scratch_postgres(PG_ADMIN_URL, PG_HOST) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'cordvault.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def redis_url() -> str:
    """The Redis URL, after checking it answers (fails in CI when down)."""
    _need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL
