"""Consistent copies of the metadata database: ``cordvault backup`` / ``cordvault restore``.

- **SQLite**: the SQLite online backup API (``sqlite3.Connection.backup``) copies a consistent
  snapshot while the server keeps running (writers wait for a page batch at most). Restore
  copies the backup file into the configured database the same way, in one step.
- **PostgreSQL**: ``pg_dump --format=custom`` (a consistent snapshot, taken in one
  ``REPEATABLE READ`` transaction by pg_dump itself) and ``pg_restore --clean --if-exists
  --no-owner --single-transaction``. The password, when the URL carries one, is handed over in
  ``PGPASSWORD``, never on a command line (other users can read those in ``ps``).

Backups are written 0600. A backup alone is not enough to read the drive: the master key
(``MESSAGE_ENCRYPTION_KEY`` or ``DATA_DIR/drive_master.key``) and the signing secret must be
kept with it (``docs/operations.md``). Errors: an unsupported URL -> ``INVALID_SETTINGS``; a
missing input -> ``NOT_FOUND``; a failed tool -> ``UNKNOWN_ERROR`` with its last stderr line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import create_private_file

_PAGES = 1024  # pages copied per step: writers get the lock back in between


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise CordvaultError(ErrorCode.INVALID_SETTINGS, "an in-memory database has no backup")
    return Path(parsed.database)


def _pg(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment carrying it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise CordvaultError(
            ErrorCode.INVALID_SETTINGS,
            "backup supports SQLite and PostgreSQL databases",
            details={"names": ["DATABASE_URL"]},
        )
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(tool: str, args: list[str], env: dict[str, str]) -> None:
    path = shutil.which(tool)
    if path is None:
        raise CordvaultError(ErrorCode.MISSING_SETTINGS, f"{tool} is not installed")
    done = subprocess.run([path, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CordvaultError(ErrorCode.UNKNOWN_ERROR, f"{tool} failed: {last}")


def backup(url: str, output: Path) -> int:
    """Write a consistent copy of the database at ``url`` to ``output`` (0600, replaced if
    it exists); returns its size in bytes."""
    output = Path(output)
    if output.exists():
        output.unlink()
    create_private_file(output)
    source = _sqlite_path(url)
    if source is not None:
        if not source.exists():
            raise CordvaultError(ErrorCode.NOT_FOUND, "the SQLite database does not exist")
        with sqlite3.connect(source) as src, sqlite3.connect(output) as dst:
            src.backup(dst, pages=_PAGES)
        src.close()
        dst.close()
    else:
        dsn, env = _pg(url)
        _run("pg_dump", ["--format=custom", "--no-owner", f"--file={output}", dsn], env)
    return output.stat().st_size


def restore(url: str, source: Path) -> None:
    """Replace the database at ``url`` with the backup ``source`` (stop the servers first)."""
    source = Path(source)
    if not source.is_file():
        raise CordvaultError(ErrorCode.NOT_FOUND, "the backup file does not exist")
    target = _sqlite_path(url)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            try:
                src.backup(dst, pages=_PAGES)
            except sqlite3.DatabaseError as exc:
                raise CordvaultError(
                    ErrorCode.INVALID_INPUT, "the backup is not a SQLite database"
                ) from exc
        src.close()
        dst.close()
        return
    dsn, env = _pg(url)
    args = ["--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={dsn}"]
    _run("pg_restore", [*args, str(source)], env)
