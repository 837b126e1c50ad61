"""The emulated world the Discord tests run in, and a client factory.

Windows are shortened (5 messages per 0.5 s instead of per 5 s) so the suite stays fast while
the shapes of the limits stay Discord's.
"""

from __future__ import annotations

from cordvault.discord import Backoff, DiscordClient
from cordvault.discord.emulator import (
    ChannelSpec,
    EmulatorConfig,
    EmulatorHandle,
    GuildSpec,
    RouteLimit,
    WebhookSpec,
)

CHANNEL = "111111111111111111"
OTHER_CHANNEL = "222222222222222222"
LOCKED_CHANNEL = "333333333333333333"
GUILD = "444444444444444444"
LOCKED_GUILD = "555555555555555555"
USER = "80351110224678912"
LEGACY_USER = "80351110224678913"
WEBHOOK_ID = "666666666666666666"
WEBHOOK_TOKEN = "whk_Secret-Token.123456789"
TOKEN = "bot-token-for-tests-0123456789"


def make_config() -> EmulatorConfig:
    config = EmulatorConfig(tokens={TOKEN}, seed=1234)
    config.add_channels(CHANNEL, OTHER_CHANNEL, guild_id=GUILD)
    config.channels[LOCKED_CHANNEL] = ChannelSpec(LOCKED_CHANNEL, accessible=False)
    config.guilds[GUILD] = GuildSpec(GUILD, "Vault Guild", "a_icon", 42, 7)
    config.guilds[LOCKED_GUILD] = GuildSpec(LOCKED_GUILD, "Private", accessible=False)
    config.users[USER] = {
        "username": "nelly",
        "global_name": "Nelly",
        "avatar": "8342729096ea3675442027381ff50dfe",
        "discriminator": "0",
    }
    config.users[LEGACY_USER] = {
        "username": "oldtimer",
        "global_name": None,
        "avatar": None,
        "discriminator": "1337",
    }
    config.webhooks[WEBHOOK_ID] = WebhookSpec(WEBHOOK_ID, WEBHOOK_TOKEN, CHANNEL)
    config.route_limits["POST /channels/{channel_id}/messages"] = RouteLimit(5, 0.5)
    config.route_limits["POST /channels/{channel_id}/messages/bulk-delete"] = RouteLimit(1, 0.2)
    config.url_ttl = 600.0
    return config


def make_client(emulator: EmulatorHandle, **kwargs: object) -> DiscordClient:
    options: dict[str, object] = {"backoff": Backoff(base=0.01, cap=0.05), "max_retries": 3}
    options.update(kwargs)
    return DiscordClient(emulator.api_base, TOKEN, **options)  # type: ignore[arg-type]
