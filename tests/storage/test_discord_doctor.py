"""``cordvault discord doctor`` against the emulator: a healthy setup, and each way it breaks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from tests.storage.discord_support import CHANNELS, TOKEN, WEBHOOK, make_config
from typer.testing import CliRunner

from cordvault.cli.app import build_app
from cordvault.discord.emulator import ChannelSpec, EmulatorHandle, running_emulator

LOCKED = "720000000000000009"
NO_MANAGE = "720000000000000008"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    config = make_config()
    config.max_file_size = 256 * 1024
    config.channels[LOCKED] = ChannelSpec(LOCKED, accessible=False)
    config.channels[NO_MANAGE] = ChannelSpec(NO_MANAGE, manage_messages=False)
    with running_emulator(config) as emu:
        yield emu


def _doctor(
    emu: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    channels: list[str],
    *,
    token: str = TOKEN,
    max_file: int = 256 * 1024,
) -> tuple[int, str]:
    monkeypatch.setenv("DISCORD_API_BASE", emu.api_base)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", token)
    monkeypatch.setenv("DISCORD_CHANNEL_IDS", ",".join(channels))
    monkeypatch.setenv("DISCORD_MAX_FILE_BYTES", str(max_file))
    monkeypatch.setenv("COLUMNS", "220")  # Rich wraps the table to the terminal width
    result = CliRunner().invoke(build_app(), ["discord", "doctor"], terminal_width=200)
    return result.exit_code, result.output


def test_a_healthy_setup_passes_and_leaves_nothing_behind(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _doctor(emulator, monkeypatch, list(CHANNELS[:2]))
    assert code == 0, out
    assert "Discord storage is ready" in out
    for check in ("view channel", "send + attach", "size limit", "read history", "download"):
        assert check in out
    assert "FAIL" not in out
    assert "MANAGE_MESSAGES granted" in out
    assert TOKEN not in out
    assert emulator.state.messages == {}  # the test messages were deleted
    stats = emulator.state.stats()
    assert stats.requests["POST /channels/{channel_id}/messages/bulk-delete"] == 2
    assert stats.cdn_requests_with_authorization == 0


def test_webhooks_are_checked_too(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{emulator.base_url}/api/webhooks/{WEBHOOK.id}/{WEBHOOK.token}"
    monkeypatch.setenv("DISCORD_WEBHOOK_URLS", url)
    code, out = _doctor(emulator, monkeypatch, [CHANNELS[0]])
    assert code == 0, out
    assert "posted, read back by bot 0" in out
    assert WEBHOOK.token not in out
    assert emulator.state.messages == {}
    monkeypatch.setenv("DISCORD_WEBHOOK_URLS", url.replace(WEBHOOK.token, "wrong-webhook-token"))
    code, out = _doctor(emulator, monkeypatch, [CHANNELS[0]])
    assert code == 1
    assert "post refused" in out


def test_problems_are_reported_with_a_failing_exit_code(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _doctor(emulator, monkeypatch, [CHANNELS[0], LOCKED, NO_MANAGE, "729"])
    assert code == 1, out
    assert "NOT ready" in out
    assert "missing access or permission (403)" in out  # the locked channel
    assert "unknown channel (404)" in out
    assert "no MANAGE_MESSAGES" in out  # a warning only: single deletes still work
    assert emulator.state.messages == {}


def test_a_size_limit_above_the_servers_is_caught(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _doctor(emulator, monkeypatch, [CHANNELS[0]], max_file=512 * 1024)
    assert code == 1
    assert "lower DISCORD_MAX_FILE_BYTES" in out


def test_a_bad_token_fails_without_echoing_it(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _doctor(emulator, monkeypatch, [CHANNELS[0]], token="wrong-token-abcdef")
    assert code == 1
    assert "refused the token" in out
    assert "wrong-token-abcdef" not in out


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_CHANNEL_IDS", raising=False)
    result = CliRunner().invoke(build_app(), ["discord", "doctor"])
    assert result.exit_code != 0
    assert result.exception is not None
    assert "DISCORD_BOT_TOKEN" in str(result.exception)
    assert "DISCORD_CHANNEL_IDS" in str(result.exception)


def test_the_emulator_command_serves_a_discord_for_demos() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cordvault", "discord", "emulator", "--port", "0", "--channel", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "DISCORD_API_BASE=" in line
        api_base = line.strip().split("DISCORD_API_BASE=", 1)[1]
        r = httpx.get(f"{api_base}/channels/1", headers={"Authorization": "Bot emulator-bot-token"})
        assert r.status_code == 200
        assert r.json()["id"] == "1"
    finally:
        proc.terminate()
        proc.wait(10)
