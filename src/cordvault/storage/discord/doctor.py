"""``cordvault discord doctor``: is the Discord storage set up right? (the checks, no output)

For every bot token and every channel in ``DISCORD_CHANNEL_IDS`` it checks, with real
requests (Discord does not tell a bot its effective permissions in one call):

- the token (401 -> fail, nothing else is tried with it);
- VIEW_CHANNEL (``GET /channels/{id}``: 403 missing access, 404 unknown channel);
- SEND_MESSAGES + ATTACH_FILES and the effective size limit: a round trip posts one message
  with a small attachment and, once per token, one of exactly ``DISCORD_MAX_FILE_BYTES``
  (a 413 means the limit is set above the server's);
- READ_MESSAGE_HISTORY and the CDN: the message is fetched again and both attachments are
  read back with Range requests and compared;
- MANAGE_MESSAGES: the test messages are removed with one bulk delete (403 -> a warning:
  deletion then falls back to one request per message), then checked gone;
- each webhook of ``DISCORD_WEBHOOK_URLS``: a post, read back by the first bot (which must
  see the webhook's channel), deleted through the webhook.

Attachments hold random bytes under random names and the message content is empty, like real
chunks. The token, URLs and attachment names never appear in the report.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.discord import (
    Backoff,
    DiscordAuthError,
    DiscordClient,
    DiscordError,
    DiscordForbidden,
    DiscordNotFound,
    DiscordPayloadTooLarge,
    Message,
)
from cordvault.storage.discord.backend import open_webhooks, random_name
from cordvault.storage.discord.webhooks import Webhook

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    bot: int
    channel_id: str | None
    name: str
    status: Status
    detail: str


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)


def _tokens(settings: Settings) -> list[str]:
    raw = settings.discord_bot_token.get_secret_value() if settings.discord_bot_token else ""
    return [t.strip() for t in raw.split(",") if t.strip()]


def _channels(settings: Settings) -> list[str]:
    return [c.strip() for c in settings.discord_channel_ids.split(",") if c.strip()]


def run_doctor(
    settings: Settings,
    *,
    size_check: bool = True,
    progress: Callable[[Check], None] = lambda _check: None,
) -> DoctorReport:
    """Run every check; ``MISSING_SETTINGS`` (all names at once) when there is nothing to do."""
    tokens, channels = _tokens(settings), _channels(settings)
    hooks = open_webhooks(settings)
    missing = [
        name
        for name, value in (
            ("DISCORD_BOT_TOKEN", tokens),
            ("DISCORD_CHANNEL_IDS", channels or hooks),
        )
        if not value
    ]
    if missing:
        raise CordvaultError(
            ErrorCode.MISSING_SETTINGS,
            f"missing required settings: {', '.join(missing)}",
            details={"names": missing},
        )
    report = DoctorReport()

    def add(check: Check) -> None:
        report.checks.append(check)
        progress(check)

    for bot, token in enumerate(tokens):
        with DiscordClient(
            settings.discord_api_base,
            token,
            max_retries=2,
            backoff=Backoff(base=0.25, cap=2.0),
            max_rate_limit_wait=30.0,
        ) as client:
            _check_bot(client, bot, channels, settings, size_check, add)
            if bot == 0:
                for index, hook in enumerate(hooks):
                    _check_webhook(client, index, hook, add)
    return report


def _check_webhook(
    client: DiscordClient, index: int, hook: Webhook, add: Callable[[Check], None]
) -> None:
    """Post through the webhook, read the message back as the bot, delete it as the webhook."""
    name = f"webhook {index}"
    data = os.urandom(2048)
    try:
        message = client.execute_webhook(hook.id, hook.token, [(random_name(), data)])
    except DiscordError as exc:
        add(Check(0, None, name, "fail", f"post refused: {_explain(exc)}"))
        return
    try:
        fetched = client.get_message(message.channel_id, message.id)
        ok = client.fetch_attachment(fetched.attachments[0].url, 0, 64) == data[:64]
        detail = "posted, read back by bot 0" if ok else "the CDN returned other bytes"
        add(Check(0, message.channel_id, name, "ok" if ok else "fail", detail))
    except (DiscordError, IndexError) as exc:
        reason = _explain(exc) if isinstance(exc, DiscordError) else "no attachment"
        add(Check(0, message.channel_id, name, "fail", f"bot 0 cannot read it: {reason}"))
    finally:
        try:
            client.delete_webhook_message(hook.id, hook.token, message.id)
        except DiscordError as exc:
            add(Check(0, message.channel_id, name, "fail", f"delete: {_explain(exc)}"))


def _check_bot(
    client: DiscordClient,
    bot: int,
    channels: list[str],
    settings: Settings,
    size_check: bool,
    add: Callable[[Check], None],
) -> None:
    big_done = not size_check
    for channel in channels:
        try:
            info = client.get_channel(channel)
        except DiscordAuthError:
            add(Check(bot, None, "token", "fail", "Discord refused the token (401)"))
            return
        except DiscordError as exc:
            add(Check(bot, channel, "view channel", "fail", _explain(exc)))
            continue
        add(Check(bot, channel, "view channel", "ok", f"#{info.get('name', '?')}"))
        big = settings.discord_max_file_bytes if not big_done else 0
        if _round_trip(client, bot, channel, big, add) and big:
            big_done = True


def _round_trip(
    client: DiscordClient, bot: int, channel: str, big: int, add: Callable[[Check], None]
) -> bool:
    """Post, read back, bulk delete; returns whether the post (incl. the big file) worked."""
    small = os.urandom(4096)
    files = [(random_name(), small)]
    if big:
        files.append((random_name(), os.urandom(big)))
    try:
        message = client.create_message(channel, files)
    except DiscordPayloadTooLarge:
        add(
            Check(
                bot,
                channel,
                "size limit",
                "fail",
                f"a {big}-byte attachment was refused (413): lower DISCORD_MAX_FILE_BYTES",
            )
        )
        return False
    except DiscordError as exc:
        add(Check(bot, channel, "send + attach", "fail", _explain(exc)))
        return False
    add(Check(bot, channel, "send + attach", "ok", "posted a test message"))
    if big:
        add(Check(bot, channel, "size limit", "ok", f"{big}-byte attachment accepted"))
    try:
        _read_back(client, bot, channel, message, files, add)
    finally:
        _cleanup(client, bot, channel, message, add)
    return True


def _read_back(
    client: DiscordClient,
    bot: int,
    channel: str,
    posted: Message,
    files: list[tuple[str, bytes]],
    add: Callable[[Check], None],
) -> None:
    try:
        message = client.get_message(channel, posted.id)
    except DiscordError as exc:
        add(Check(bot, channel, "read history", "fail", _explain(exc)))
        return
    add(Check(bot, channel, "read history", "ok", "message fetched with fresh URLs"))
    by_name = {a.filename: a for a in message.attachments}
    try:
        for name, data in files:
            attachment = by_name[name]
            head = client.fetch_attachment(attachment.url, 0, 64)
            tail = client.fetch_attachment(attachment.url, len(data) - 16)
            if head != data[:64] or tail != data[-16:]:
                add(Check(bot, channel, "download", "fail", "the CDN returned other bytes"))
                return
    except KeyError:
        add(Check(bot, channel, "download", "fail", "attachments missing from the message"))
        return
    except DiscordError as exc:
        add(Check(bot, channel, "download", "fail", _explain(exc)))
        return
    add(Check(bot, channel, "download", "ok", "attachments read back with Range requests"))


def _cleanup(
    client: DiscordClient, bot: int, channel: str, message: Message, add: Callable[[Check], None]
) -> None:
    try:
        second = client.create_message(channel, [(random_name(), secrets.token_bytes(16))])
    except DiscordError as exc:
        add(Check(bot, channel, "bulk delete", "warn", f"not tried: {_explain(exc)}"))
        second = None
    ids = [message.id] + ([second.id] if second is not None else [])
    try:
        if len(ids) >= 2:
            try:
                client.bulk_delete(channel, ids)
                add(Check(bot, channel, "bulk delete", "ok", "MANAGE_MESSAGES granted"))
            except DiscordForbidden:
                add(
                    Check(
                        bot,
                        channel,
                        "bulk delete",
                        "warn",
                        "no MANAGE_MESSAGES: deleted files cost one request per message",
                    )
                )
        for message_id in ids:
            client.delete_message(channel, message_id)  # already gone: 10008 is fine
        for message_id in ids:
            try:
                client.get_message(channel, message_id)
            except DiscordNotFound:
                continue
            add(Check(bot, channel, "delete", "fail", "a test message is still there"))
            return
    except DiscordError as exc:
        add(Check(bot, channel, "delete", "fail", _explain(exc)))
        return
    add(Check(bot, channel, "delete", "ok", "test messages removed"))


def _explain(exc: DiscordError) -> str:
    if isinstance(exc, DiscordForbidden):
        return "missing access or permission (403)"
    if isinstance(exc, DiscordNotFound):
        return "unknown channel (404)" if exc.discord_code == 10003 else "not found (404)"
    return f"{exc.code}: {exc.message}"
