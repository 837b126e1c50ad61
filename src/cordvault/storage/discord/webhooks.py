"""Webhooks as extra upload lanes (``DISCORD_WEBHOOK_URLS``).

A webhook posts into its own channel with its own rate limit and outside the bot's global
50/s, so it adds upload capacity without another bot (no token rotation: each webhook is a
separate, documented way to post). Its URL is a credential: the token is registered with the
log redactor and never echoed. Reads and bulk deletes still go through a bot token that can
read the webhook's channel; single deletes use the webhook's own route.

In locators a webhook is ``bot = WEBHOOK_BASE + its position`` in ``DISCORD_WEBHOOK_URLS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import register_secret

WEBHOOK_BASE = 100
_URL = re.compile(
    r"https?://[^/\s]+(?:/api(?:/v\d+)?)?/webhooks/([0-9]{1,20})/([A-Za-z0-9_.\-]{1,200})/?"
)


@dataclass(frozen=True)
class Webhook:
    """One webhook: its id and its secret token (kept out of ``repr``)."""

    id: str
    token: str = field(repr=False)


def parse_webhook_urls(raw: str) -> list[Webhook]:
    """Comma-separated webhook URLs -> webhooks; ``INVALID_SETTINGS`` (URL not echoed)."""
    hooks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        match = _URL.fullmatch(part)
        if match is None:
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "DISCORD_WEBHOOK_URLS must be comma-separated Discord webhook URLs "
                "(https://discord.com/api/webhooks/<id>/<token>)",
                details={"names": ["DISCORD_WEBHOOK_URLS"]},
            )
        register_secret(match.group(2))
        hooks.append(Webhook(match.group(1), match.group(2)))
    return hooks
