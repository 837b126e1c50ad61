"""``cordvault analyze`` / ``decrypt-blob`` as a user runs them: real subprocesses."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cordvault.insights.generator import GenOptions, generate_package

UPN = "u" * 520


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cordvault", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pkg") / "package.zip"
    generate_package(path, GenOptions(variant="modern", seed=3, messages=800, events=1500))
    return path


def test_analyze_writes_database_report_and_summary(tmp_path: Path, package: Path) -> None:
    out = tmp_path / "insights.sqlite"
    proc = run("analyze", str(package), "-o", str(out), "--report", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    assert "Your Discord data" in proc.stdout
    conn = sqlite3.connect(out)
    messages = conn.execute("SELECT value FROM cordvault_meta WHERE key='messages_total'")
    assert int(messages.fetchone()[0]) > 0
    conn.close()
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html
    assert "Traceback" not in proc.stderr


def test_blob_round_trip_and_key_errors(tmp_path: Path, package: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text(f"https://click.discord.com/ls/click?upn={UPN}\n")
    out, blob = tmp_path / "a.sqlite", tmp_path / "a.cvblob"
    proc = run(
        "analyze",
        str(package),
        "-o",
        str(out),
        "--no-report",
        "--blob",
        str(blob),
        "--key-file",
        str(key),
    )
    assert proc.returncode == 0, proc.stderr
    assert UPN not in proc.stdout + proc.stderr

    back = tmp_path / "back.sqlite"
    proc = run("decrypt-blob", str(blob), "-o", str(back), "--key-file", str(key))
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == out.read_bytes()

    wrong = tmp_path / "wrong.txt"
    wrong.write_text("w" * 520)
    proc = run(
        "decrypt-blob", str(blob), "-o", str(tmp_path / "x.sqlite"), "--key-file", str(wrong)
    )
    assert proc.returncode == 4
    assert "WRONG_KEY" in proc.stderr
    assert not (tmp_path / "x.sqlite").exists()

    data = bytearray(blob.read_bytes())
    data[-5] ^= 0x01
    blob.write_bytes(bytes(data))
    proc = run("decrypt-blob", str(blob), "-o", str(tmp_path / "y.sqlite"), "--key-file", str(key))
    assert proc.returncode == 3
    assert "CORRUPT_BLOB" in proc.stderr
    assert not (tmp_path / "y.sqlite").exists()


@pytest.mark.parametrize(
    ("files", "env", "code", "exit_code"),
    [
        ({"not.zip": b"just text"}, {}, "NOT_A_ZIP", 3),
        ({"trunc.zip": b"PK\x03\x04" + b"\0" * 40}, {}, "CORRUPT_ZIP", 3),
        ("partial-messages-only", {}, "MISSING_USER_DATA", 3),
        ("modern", {"MAX_PACKAGE_BYTES": "1000"}, "PACKAGE_TOO_LARGE", 3),
        ("modern", {"MAX_ENTRY_BYTES": "1000"}, "PACKAGE_TOO_LARGE", 3),
        ({"missing.zip": None}, {}, "NOT_FOUND", 5),
    ],
)
def test_bad_packages_give_codes_not_tracebacks(
    tmp_path: Path, files: object, env: dict[str, str], code: str, exit_code: int
) -> None:
    if isinstance(files, str):
        path = tmp_path / "p.zip"
        generate_package(path, GenOptions(variant=files, seed=1, messages=100, events=200))
    else:
        assert isinstance(files, dict)
        name, data = next(iter(files.items()))
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
    proc = run("analyze", str(path), "-o", str(tmp_path / "o.sqlite"), env=env)
    assert proc.returncode == exit_code, proc.stderr
    assert f"error {code}" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "o.sqlite").exists()
