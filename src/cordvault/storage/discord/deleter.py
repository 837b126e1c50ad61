"""Background removal of Discord messages: deleted files' messages and orphans.

``delete`` only writes a deletion record (:mod:`cordvault.storage.discord.ledger`) and wakes
this worker. :meth:`Deleter.run_once`:

1. takes the messages whose every chunk has a record and deletes them per channel: with
   ``bulk-delete`` (one request for up to 100) when at least two are younger than 14 days and
   the bot may (MANAGE_MESSAGES; a 403 makes that channel use single deletes from then on),
   one by one otherwise. An unknown message (404 10008) or channel (10003) counts as gone.
   Only then are the records dropped, so a crash in the middle leaves records the next run
   (of any process sharing the database) completes; deleting twice is harmless.
2. collects orphans: posts journaled before ``orphan_grace`` seconds ago and never finished
   (a crash between the post and handing the locators back, or an outcome Discord left
   unknown). Their message, if it exists, is found by the random name of its first attachment
   in the channel's messages from the post's time on, and deleted.

Failures are logged by code (never ids or URLs) and retried on the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cordvault.discord import DiscordClient, DiscordError, DiscordForbidden, DiscordNotFound
from cordvault.discord.snowflake import snowflake_at, snowflake_time
from cordvault.storage.discord.ledger import Ledger, PendingPost
from cordvault.storage.discord.webhooks import WEBHOOK_BASE, Webhook

log = logging.getLogger(__name__)

BULK_MAX_AGE = 14 * 24 * 3600.0 - 3600.0  # Discord's 14 days, less an hour of clock slack
_ORPHAN_PAGES = 20


@dataclass(frozen=True)
class DeletionReport:
    messages_deleted: int = 0
    bulk_requests: int = 0
    orphans_deleted: int = 0
    failures: int = 0


class Deleter:
    """Deletes doomed and orphaned messages, on demand or in a background thread."""

    def __init__(
        self,
        ledger: Ledger,
        clients: Sequence[DiscordClient],
        *,
        webhooks: Sequence[Webhook] = (),
        orphan_grace: float = 900.0,
        interval: float = 10.0,
        debounce: float = 0.5,
        on_deleted: Callable[[str], None] = lambda _message_id: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        self._clients = list(clients)
        self._webhooks = list(webhooks)
        self._orphan_grace = orphan_grace
        self._interval = interval
        self._debounce = debounce
        self._on_deleted = on_deleted
        self._clock = clock
        self._no_bulk: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._run_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _client(self, bot: int) -> DiscordClient:
        return self._clients[bot] if bot < len(self._clients) else self._clients[0]

    def _delete_one(self, bot: int, channel_id: str, message_id: str) -> None:
        """Delete one message as its poster: a webhook by its own route, a bot as itself."""
        hook_index = bot - WEBHOOK_BASE
        if 0 <= hook_index < len(self._webhooks):
            hook = self._webhooks[hook_index]
            self._clients[0].delete_webhook_message(hook.id, hook.token, message_id)
        else:
            self._client(bot).delete_message(channel_id, message_id)

    # -- background --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="discord-deleter", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:
                log.warning("discord deleter run failed: %s", type(exc).__name__)
            self._wake.wait(self._interval)
            self._wake.clear()
            # Deletes come in bursts (a folder): gather them for bulk deletion.
            self._stop.wait(self._debounce)

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self, *, orphan_grace: float | None = None) -> DeletionReport:
        """Delete what is due now; returns what was done (failures stay for the next run).

        ``orphan_grace`` overrides the configured grace for this run (e.g. 0 once no upload
        can be under way: never while posts may be in flight, they would count as orphans).
        """
        grace = self._orphan_grace if orphan_grace is None else orphan_grace
        with self._run_lock:
            deleted, bulks, failures = self._delete_doomed()
            orphans, orphan_failures = self._collect_orphans(grace)
        return DeletionReport(deleted, bulks, orphans, failures + orphan_failures)

    def _delete_doomed(self) -> tuple[int, int, int]:
        deleted = bulks = failures = 0
        while True:
            doomed = self._ledger.doomed_messages()
            if not doomed:
                break
            groups: dict[tuple[int, str], list[str]] = defaultdict(list)
            for message in doomed:
                groups[(message.bot, message.channel_id)].append(message.message_id)
            round_failures = 0
            for (bot, channel_id), ids in groups.items():
                try:
                    gone, used_bulk = self._delete_group(bot, channel_id, ids)
                except DiscordError as exc:
                    round_failures += 1
                    log.warning("discord message deletion failed: %s", exc.code)
                    continue
                self._ledger.forget_messages(gone)
                for message_id in gone:
                    self._on_deleted(message_id)
                deleted += len(gone)
                bulks += used_bulk
            failures += round_failures
            if round_failures or len(doomed) < 500:
                break
        return deleted, bulks, failures

    def _delete_group(self, bot: int, channel_id: str, ids: list[str]) -> tuple[list[str], int]:
        """Delete ``ids`` from one channel; returns the ids now gone and bulk requests used."""
        client = self._client(bot)
        now = self._clock()
        young = [m for m in ids if now - snowflake_time(m) < BULK_MAX_AGE]
        old = [m for m in ids if m not in set(young)]
        bulks = 0
        try:
            if len(young) >= 2 and channel_id not in self._no_bulk:
                try:
                    client.bulk_delete(channel_id, young)
                    bulks = (len(young) + 99) // 100
                except DiscordForbidden:
                    self._no_bulk.add(channel_id)  # no MANAGE_MESSAGES: own messages one by one
                    old = young + old
            else:
                old = young + old
            for message_id in old:
                self._delete_one(bot, channel_id, message_id)  # 10008 already counts as gone
        except DiscordNotFound as exc:
            if exc.discord_code != 10003:
                raise
            # Unknown channel: everything it held is gone with it.
        return ids, bulks

    def _collect_orphans(self, grace: float) -> tuple[int, int]:
        found = failures = 0
        for post in self._ledger.stale_posts(self._clock() - grace):
            if not post.channel_id:
                # A webhook's first post: its channel was not known yet, nothing to search.
                log.warning("discord orphan check skipped: channel unknown")
                self._ledger.end_post([post.marker])
                continue
            try:
                message_id = self._find(post, grace)
                if message_id is not None:
                    self._delete_one(post.bot, post.channel_id, message_id)
                    self._on_deleted(message_id)
                    found += 1
            except DiscordError as exc:
                if not (isinstance(exc, DiscordNotFound) and exc.discord_code == 10003):
                    failures += 1
                    log.warning("discord orphan collection failed: %s", exc.code)
                    continue
            self._ledger.end_post([post.marker])
        return found, failures

    def _find(self, post: PendingPost, grace: float) -> str | None:
        """The id of the message whose first attachment is named ``post.marker``, if any."""
        client = self._client(post.bot)
        after = str(snowflake_at(post.created_at - 60))
        horizon = post.created_at + grace + 60
        for _ in range(_ORPHAN_PAGES):
            page = client.get_messages(post.channel_id, after=after, limit=100)
            if not page:
                return None
            for message in page:
                if message.attachments and message.attachments[0].filename == post.marker:
                    return message.id
            newest = max(page, key=lambda m: int(m.id))
            if snowflake_time(newest.id) > horizon:
                return None
            after = newest.id
        return None
