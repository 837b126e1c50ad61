"""Run the emulator as a server: ``python -m cordvault.discord.emulator --port 8787``.

Prints the API base to give ``DISCORD_API_BASE`` and serves until interrupted. The control API
(``/_emulator/stats``, ``/_emulator/faults``, ``/_emulator/clock``) adjusts it while it runs.
"""

from __future__ import annotations

import argparse
import time

from cordvault.discord.emulator.limits import RouteLimit
from cordvault.discord.emulator.server import running_emulator
from cordvault.discord.emulator.state import EmulatorConfig, GuildSpec, MiB, WebhookSpec


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cordvault.discord.emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--token", action="append", help="valid bot token (repeatable)")
    p.add_argument(
        "--channel", action="append", default=[], help="channel id the bot can use (repeatable)"
    )
    p.add_argument(
        "--webhook", action="append", default=[], help="ID:TOKEN:CHANNEL webhook (repeatable)"
    )
    p.add_argument("--guild", action="append", default=[], help="ID:NAME:MEMBERS guild")
    p.add_argument("--user", action="append", default=[], help="ID:USERNAME user")
    p.add_argument("--max-file-mib", type=float, default=10.0, help="per-file limit (MiB)")
    p.add_argument("--url-ttl", type=float, default=24 * 3600.0, help="signed URL life (s)")
    p.add_argument(
        "--message-limit",
        default="5/5",
        help="message create limit per channel as COUNT/SECONDS (default 5/5)",
    )
    p.add_argument("--global-limit", type=int, default=50, help="requests per second per token")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config = EmulatorConfig(
        max_file_size=int(args.max_file_mib * MiB),
        url_ttl=args.url_ttl,
        global_limit=args.global_limit,
    )
    if args.token:
        config.tokens = set(args.token)
    config.add_channels(*args.channel)
    for spec in args.webhook:
        hook_id, token, channel = spec.split(":", 2)
        config.webhooks[hook_id] = WebhookSpec(hook_id, token, channel)
    for spec in args.guild:
        guild_id, name, members = spec.split(":", 2)
        config.guilds[guild_id] = GuildSpec(guild_id, name, member_count=int(members))
    for spec in args.user:
        user_id, username = spec.split(":", 1)
        config.users[user_id] = {
            "username": username,
            "global_name": None,
            "avatar": None,
            "discriminator": "0",
        }
    count, per = args.message_limit.split("/", 1)
    config.route_limits["POST /channels/{channel_id}/messages"] = RouteLimit(int(count), float(per))
    with running_emulator(config, host=args.host, port=args.port) as emulator:
        print(f"Discord emulator: DISCORD_API_BASE={emulator.api_base}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
