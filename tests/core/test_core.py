"""Foundation: settings, the error family, logging redaction, CLI error boundary."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import RedactingFilter, configure_logging, redact, register_secret
from cordvault.core.settings import Settings, load_settings, require


def test_missing_settings_are_reported_all_at_once() -> None:
    settings = Settings(discord_bot_token=None, message_encryption_key=None)
    with pytest.raises(CordvaultError) as info:
        require(settings, "discord_bot_token", "message_encryption_key", "storage_backend")
    assert info.value.code == ErrorCode.MISSING_SETTINGS
    assert info.value.details["names"] == ["DISCORD_BOT_TOKEN", "MESSAGE_ENCRYPTION_KEY"]
    assert info.value.exit_code == 7


def test_invalid_settings_name_every_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PACKAGE_BYTES", "lots")
    monkeypatch.setenv("ANALYZE_WORKERS", "two")
    with pytest.raises(CordvaultError) as info:
        load_settings()
    assert info.value.code == ErrorCode.INVALID_SETTINGS
    assert info.value.details["names"] == ["ANALYZE_WORKERS", "MAX_PACKAGE_BYTES"]


def test_reference_env_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_URL", "postgres://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert settings.broker_url == "redis://127.0.0.1:6379/0"


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cordvault.db'}"


def test_every_setting_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in doc, f"{name.upper()} missing from docs/settings.md"


def test_errors_carry_http_status_and_exit_code() -> None:
    err = CordvaultError(ErrorCode.PACKAGE_TOO_LARGE, "too big", details={"limit": 1})
    assert (err.http_status, err.exit_code) == (413, 3)
    assert err.to_dict() == {
        "errorMessageCode": "PACKAGE_TOO_LARGE",
        "message": "too big",
        "details": {"limit": 1},
    }


def test_log_redaction_masks_secrets_and_signed_urls() -> None:
    register_secret("super-secret-upn-value")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("cordvault.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning(
            "got %s from https://cdn.example/a.bin?ex=1&hm=sig", "super-secret-upn-value"
        )
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "super-secret-upn-value" not in out
    assert "hm=sig" not in out
    assert "[redacted]" in out
    assert redact("plain text") == "plain text"


def test_debug_logging_env_switches_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG_LOGGING", "1")
    settings = load_settings()
    configure_logging(debug=settings.debug_logging)
    assert logging.getLogger().level == logging.DEBUG
    configure_logging(debug=False)
    assert logging.getLogger().level == logging.INFO


def test_cli_help_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cordvault", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "cordvault" in proc.stdout


def test_every_error_code_is_documented_with_its_statuses() -> None:
    from cordvault.core.errors import _EXIT_CODE, _HTTP_STATUS

    doc = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    for code in ErrorCode:
        row = f"| `{code.value}` | {_HTTP_STATUS.get(code, 500)} | {_EXIT_CODE.get(code, 1)} |"
        assert row in doc, f"{code.value} missing or wrong in docs/errors.md"


def test_errors_survive_pickling_across_processes() -> None:
    import pickle

    from cordvault.storage.base import ChunkNotFound, StorageFull

    for err in (
        CordvaultError(ErrorCode.CORRUPT_ZIP, "damaged", details={"entry": 3}),
        ChunkNotFound("gone"),
        StorageFull(),
    ):
        back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes, as between workers
        assert type(back) is type(err)
        assert (back.code, back.message, back.http_status, back.exit_code, back.details) == (
            err.code,
            err.message,
            err.http_status,
            err.exit_code,
            err.details,
        )
        assert str(back) == str(err)
