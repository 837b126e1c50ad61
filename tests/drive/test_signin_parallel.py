"""Parallel guesses from one client: every attempt is checked and counted before its secret
is verified, so sending guesses at the same moment gives no more of them than sending them
one after the other. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.drive.support import PASSWORD, DriveEnv

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import passwords, signin
from cordvault.drive.clients import ClientInfo
from cordvault.drive.models import DriveUser

PARALLEL = 12
FREE = 3  # DRIVE_LOGIN_MAX_FAILURES


def test_parallel_wrong_guesses_get_no_more_tries_than_sequential_ones(
    make_env: Callable[..., DriveEnv],
) -> None:
    env = make_env(drive_login_max_failures=FREE, drive_login_base_delay_seconds=60.0)
    env.register("admin")
    verified: list[str] = []
    lock = threading.Lock()

    def slow_wrong(user: DriveUser | None) -> bool:
        # A slow verification (argon2 on a busy server): every thread is past its throttle
        # check long before any failure could have been recorded after verifying.
        with lock:
            verified.append("x")
        time.sleep(0.3)
        return False

    start = threading.Barrier(PARALLEL)

    def attempt(_i: int) -> str:
        start.wait()
        try:
            with env.drive.sessions() as db, db.begin():
                signin.sign_in(
                    env.drive, db, "admin", ClientInfo("127.0.0.9"), slow_wrong, via="api"
                )
        except CordvaultError as exc:
            return exc.code.value
        return "ok"

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(attempt, range(PARALLEL)))
    assert len(verified) == FREE, answers
    assert answers.count(ErrorCode.UNAUTHORIZED.value) == FREE
    assert answers.count(ErrorCode.RATE_LIMITED.value) == PARALLEL - FREE
    # The delay applies to the right password too; another client is not affected.
    assert (
        env.from_address("127.0.0.9")
        .post("/api/auth/login", json={"name": "admin", "password": PASSWORD})
        .status_code
        == 429
    )
    assert (
        env.from_address("127.0.0.10")
        .post("/api/auth/login", json={"name": "admin", "password": PASSWORD})
        .status_code
        == 200
    )


def test_parallel_right_passwords_leave_no_count_behind(
    make_env: Callable[..., DriveEnv],
) -> None:
    """Reservations of successful sign-ins are taken back: afterwards the client has all its
    free failures again."""
    env = make_env(drive_login_max_failures=FREE, drive_login_base_delay_seconds=60.0)
    env.register("admin")

    def right(user: DriveUser | None) -> bool:
        return passwords.verify(user.password_hash if user is not None else None, PASSWORD)

    def attempt(_i: int) -> str:
        with env.drive.sessions() as db, db.begin():
            signin.sign_in(env.drive, db, "admin", ClientInfo("127.0.0.11"), right, via="api")
        return "ok"

    with ThreadPoolExecutor(FREE) as pool:
        assert list(pool.map(attempt, range(FREE))) == ["ok"] * FREE
    client = env.from_address("127.0.0.11")
    for _ in range(FREE):
        r = client.post("/api/auth/login", json={"name": "admin", "password": "wrong"})
        assert r.status_code == 401
    r = client.post("/api/auth/login", json={"name": "admin", "password": PASSWORD})
    assert r.status_code == 429
