"""A local Discord API emulator that behaves like Discord (limits, 429s, expiring URLs, faults).

Start it in-process with :func:`running_emulator`, or as a server with
``python -m cordvault.discord.emulator --port 8787``.
"""

from cordvault.discord.emulator.app import create_app
from cordvault.discord.emulator.faults import FaultRule
from cordvault.discord.emulator.limits import RouteLimit
from cordvault.discord.emulator.server import EmulatorHandle, running_emulator
from cordvault.discord.emulator.state import (
    ChannelSpec,
    EmulatorConfig,
    EmulatorState,
    GuildSpec,
    Stats,
    WebhookSpec,
)

__all__ = [
    "ChannelSpec",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorState",
    "FaultRule",
    "GuildSpec",
    "RouteLimit",
    "Stats",
    "WebhookSpec",
    "create_app",
    "running_emulator",
]
