"""Every ``cordvault`` command answers a usage error like any Click program: the usage line,
what was wrong, exit status 2 (never ``UNKNOWN_ERROR`` or a traceback). Each command runs with
a bad option, and each command with a required argument runs with no arguments."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from cordvault.cli.app import build_app, main


def _commands() -> Iterator[tuple[list[str], bool]]:
    """``(path, has_required_argument)`` of every command and group."""
    root = typer.main.get_command(build_app())

    # Typer bundles its own Click: duck-typed, not isinstance of the ``click`` package's classes.
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], bool]]:
        group = hasattr(cmd, "commands")
        required = any(p.required for p in cmd.params if p.param_type_name == "argument")
        yield path, required or group
        if group:
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, [*path, name])

    yield from walk(root, [])


def _run(args: list[str], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("DATA_DIR", str(tmp / "data"))
    monkeypatch.setenv("DRIVE_CLIENT_CONFIG", str(tmp / "drive.json"))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


COMMANDS = list(_commands())


def test_the_command_tree_is_walked() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    for expected in (
        "drive put",
        "drive sync",
        "drive publish",
        "drive links revoke",
        "drive app-password create",
        "user disable",
        "user promote",
    ):
        assert expected in paths


@pytest.mark.parametrize(
    ("path", "required"), COMMANDS, ids=[" ".join(p) or "root" for p, _ in COMMANDS]
)
def test_usage_errors_exit_2(
    path: list[str], required: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = _run([*path, "--no-such-option"], tmp_path, monkeypatch)
    assert code == 2, text
    # `discord emulator` hands its arguments to the emulator's own argparse parser.
    assert "No such option" in text or "unrecognized arguments" in text
    assert "usage:" in text.lower()
    assert "UNKNOWN_ERROR" not in text
    if required and path:
        code, text = _run(path, tmp_path, monkeypatch)
        assert code == 2, text
        assert "Usage:" in text
        assert "UNKNOWN_ERROR" not in text
        assert "Traceback" not in text


def test_unknown_command_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = _run(["drive", "frobnicate"], tmp_path, monkeypatch)
    assert code == 2
    assert "No such command 'frobnicate'" in text
