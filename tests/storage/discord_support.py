"""The emulated Discord the storage tests run against, and a store factory.

Rate-limit windows are shortened (5 message posts per 0.5 s per channel instead of per 5 s,
5 webhook posts per 0.2 s instead of per 2 s) so the tests stay fast while the limits keep
Discord's shape; everything goes over real HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from cordvault.discord import Backoff, DiscordClient
from cordvault.discord.emulator import EmulatorConfig, EmulatorHandle, RouteLimit, WebhookSpec
from cordvault.storage.discord.backend import DiscordChunkStore, DiscordStoreOptions
from cordvault.storage.discord.webhooks import Webhook

TOKEN = "storage-bot-token-0123456789"
OTHER_TOKEN = "storage-bot-token-9876543210"
CHANNELS = ("710000000000000001", "710000000000000002", "710000000000000003")
MARKER = b"PLAINTEXT-MARKER-7f3a"
WEBHOOK = Webhook("740000000000000001", "storage-webhook-token_0123456789")


def make_config(*, url_ttl: float = 600.0, seed: int = 99) -> EmulatorConfig:
    config = EmulatorConfig(tokens={TOKEN, OTHER_TOKEN}, seed=seed, url_ttl=url_ttl)
    config.add_channels(*CHANNELS)
    config.webhooks[WEBHOOK.id] = WebhookSpec(WEBHOOK.id, WEBHOOK.token, CHANNELS[2])
    config.route_limits["POST /channels/{channel_id}/messages"] = RouteLimit(5, 0.5)
    config.route_limits["POST /channels/{channel_id}/messages/bulk-delete"] = RouteLimit(1, 0.2)
    config.route_limits["POST /webhooks/{webhook_id}/{webhook_token}"] = RouteLimit(5, 0.2)
    return config


def make_clients(
    emulator: EmulatorHandle, tokens: Sequence[str] = (TOKEN,), **options: object
) -> list[DiscordClient]:
    kwargs: dict[str, object] = {"backoff": Backoff(base=0.01, cap=0.1), "max_retries": 6}
    kwargs.update(options)
    return [
        DiscordClient(emulator.api_base, token, **kwargs)  # type: ignore[arg-type]
        for token in tokens
    ]


def make_store(
    emulator: EmulatorHandle,
    sessions: sessionmaker[Session],
    *,
    channels: Sequence[str] = CHANNELS,
    tokens: Sequence[str] = (TOKEN,),
    webhooks: Sequence[Webhook] = (),
    client_options: dict[str, object] | None = None,
    **options: object,
) -> DiscordChunkStore:
    opts: dict[str, object] = {
        "max_file_bytes": 1024 * 1024,
        "pack_window": 0.02,
        "url_refresh_margin": 60.0,
        "delete_interval": 0.5,
        "orphan_grace": 60.0,
    }
    opts.update(options)
    return DiscordChunkStore(
        make_clients(emulator, tokens, **(client_options or {})),
        channels,
        sessions,
        DiscordStoreOptions(**opts),  # type: ignore[arg-type]
        webhooks=webhooks,
    )
