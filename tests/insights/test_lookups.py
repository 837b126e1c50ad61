"""/user and /widget through the Discord REST client against the local Discord emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from tests.support.insights_server import bearer, insights_client, new_upn

from cordvault.core.settings import Settings
from cordvault.discord.emulator import EmulatorConfig, FaultRule, GuildSpec, running_emulator
from cordvault.discord.emulator.server import EmulatorHandle

NELLY = "80351110224678912"
PLAIN = "1100000000000000000"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig()
    config.users[NELLY] = {
        "id": NELLY,
        "username": "nelly",
        "global_name": "Nelly",
        "avatar": "a_8342729096ea3675442027381ff50dfe",
        "discriminator": "0",
    }
    config.users[PLAIN] = {"id": PLAIN, "username": "old", "avatar": None, "discriminator": "1337"}
    config.guilds["613425648685547541"] = GuildSpec(
        "613425648685547541", "Dumpus", icon="abc123", member_count=4242
    )
    with running_emulator(config) as emu:
        yield emu


@pytest.fixture
def client_and_id(
    emulator: EmulatorHandle, make_settings: Callable[..., Settings]
) -> tuple[TestClient, str, str]:
    settings = make_settings(discord_api_base=emulator.api_base, discord_bot_token=emulator.token)
    client = insights_client(settings)
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    return client, pid, upn


def test_user_lookup_and_cache(
    client_and_id: tuple[TestClient, str, str], emulator: EmulatorHandle
) -> None:
    client, pid, upn = client_and_id
    response = client.get(f"/process/{pid}/user/{NELLY}", headers=bearer(upn))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": NELLY,
        "display_name": "Nelly",
        "avatar_url": f"https://cdn.discordapp.com/avatars/{NELLY}/a_8342729096ea3675442027381ff50dfe.gif",
        "username": "nelly",
    }
    legacy = client.get(f"/process/{pid}/user/{PLAIN}", headers=bearer(upn)).json()
    assert legacy["display_name"] is None
    assert legacy["avatar_url"] == "https://cdn.discordapp.com/embed/avatars/2.png"  # 1337 % 5
    # Discord now fails, but the answers are cached for 24 h.
    emulator.add_fault(FaultRule("GET */users/*", "500"))
    again = client.get(f"/process/{pid}/user/{NELLY}", headers=bearer(upn))
    assert again.status_code == 200
    assert again.json()["username"] == "nelly"


def test_user_lookup_failures(
    client_and_id: tuple[TestClient, str, str], emulator: EmulatorHandle
) -> None:
    client, pid, upn = client_and_id
    unknown = client.get(f"/process/{pid}/user/123456789012345678", headers=bearer(upn))
    assert unknown.status_code == 404
    bad = client.get(f"/process/{pid}/user/not-an-id", headers=bearer(upn))
    assert bad.status_code == 400
    emulator.add_fault(FaultRule(f"GET */users/{PLAIN}", "503"))
    failing = client.get(f"/process/{pid}/user/{PLAIN}", headers=bearer(upn))
    assert failing.status_code == 500
    assert failing.json()["errorMessageCode"] == "UPSTREAM_ERROR"
    emulator.state.faults.clear()
    # A long rate limit is not waited out inside a web request: 429 to the client.
    emulator.add_fault(FaultRule(f"GET */users/{PLAIN}", "429", retry_after=30.0))
    limited = client.get(f"/process/{pid}/user/{PLAIN}", headers=bearer(upn))
    assert limited.status_code == 429
    assert limited.json()["errorMessageCode"] == "RATE_LIMITED"


def test_widget(client_and_id: tuple[TestClient, str, str]) -> None:
    client, _, _ = client_and_id
    body = client.get("/widget/613425648685547541").json()
    assert body == {
        "name": "Dumpus",
        "icon_url": "https://cdn.discordapp.com/icons/613425648685547541/abc123.png",
        "member_count": 4242,
    }
    assert client.get("/widget/613425648685547999").status_code == 404
    assert client.get("/widget/abc").status_code == 400


def test_lookups_without_a_bot_token_fail_cleanly(make_settings: Callable[..., Settings]) -> None:
    client = insights_client(make_settings())
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    response = client.get(f"/process/{pid}/user/{NELLY}", headers=bearer(upn))
    assert response.status_code == 500
    assert response.json()["errorMessageCode"] == "MISSING_SETTINGS"
