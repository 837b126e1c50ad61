"""The Discord chunk store: encrypted chunks as attachments of bot messages.

``STORAGE_BACKEND=discord`` builds it with :func:`open_discord_store` (through
:func:`cordvault.storage.factory.open_chunk_store`, which imports this module only when the
backend is chosen). Contract: the one of :mod:`cordvault.storage.base` (checked by the
conformance suite). How it meets it:

- **put / put_many** queue chunks in the :class:`~cordvault.storage.discord.packer.Packer`,
  which posts several per message (<= ``max_attachments`` files, <= ``max_request_bytes`` per
  request) from one lane per bot token x channel (plus one per optional webhook), so writes
  spread over channels, tokens and webhooks. The chunks the packer holds share one byte budget
  (:func:`upload_budget`); a ``put`` that does not fit waits, which is an upload's back-pressure.
  Each token has its own client and rate-limit pacer; tokens are never rotated to dodge a
  limit. A post carries a nonce, so the client's retries cannot duplicate it; an outcome left
  unknown is asked once more with the same nonce. Attachment names are random
  (``<32 hex>.bin``) and the message content is empty: Discord learns nothing about the file.
  A 0-byte chunk is a 1-byte random filler attachment (Discord refuses empty files).
- **locators** hold ids only (:mod:`cordvault.storage.discord.locator`), never a URL.
- **get** checks the range against the size in the locator, answers deleted chunks from the
  deletion records, resolves the signed URL through the
  :class:`~cordvault.storage.discord.urlcache.UrlCache` and asks the CDN for exactly the bytes
  wanted (HTTP Range).
- **delete** writes a durable deletion record; the
  :class:`~cordvault.storage.discord.deleter.Deleter` removes a message in the background once
  all its chunks are deleted (bulk delete when possible) and collects orphan messages of posts
  that never finished. Records live in the drive's database (``storage`` Alembic branch).

Errors: Discord failures become storage errors by :func:`~cordvault.storage.discord.errors.
storage_error`; a ``put_many`` that fails deletes (records) what it had stored.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.metrics import STORAGE_BYTES
from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.discord import (
    Backoff,
    DiscordClient,
    DiscordError,
    DiscordOutcomeUnknown,
    Message,
)
from cordvault.discord.routes import Route
from cordvault.storage.base import (
    NAME_PATTERN,
    Capabilities,
    ChunkNotFound,
    NamedObject,
    StorageError,
    StorageUnavailable,
)
from cordvault.storage.discord.deleter import Deleter, DeletionReport
from cordvault.storage.discord.errors import storage_error
from cordvault.storage.discord.ledger import Ledger
from cordvault.storage.discord.locator import Locator
from cordvault.storage.discord.packer import Lane, Packer
from cordvault.storage.discord.urlcache import UrlCache
from cordvault.storage.discord.webhooks import WEBHOOK_BASE, Webhook, parse_webhook_urls

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_CREATE = "/channels/{channel_id}/messages"
_EXECUTE = "/webhooks/{webhook_id}/{webhook_token}"
_WEBHOOK_ATTEMPTS = 3
# Room left in each request for the multipart framing and payload_json.
_REQUEST_OVERHEAD = 64 * 1024
_ATTACHMENT_NAME = re.compile(r"([0-9a-f]{32})\.bin")
_PAGE = 100


@dataclass(frozen=True)
class DiscordStoreOptions:
    """Tunables (the settings map onto these; tests shrink them)."""

    max_file_bytes: int = 10 * MiB
    max_attachments: int = 10
    max_request_bytes: int = 25 * MiB
    uploads_per_channel: int = 2
    upload_buffer_bytes: int = 0  # 0: one full message per lane (upload_budget)
    pack_window: float = 0.1
    url_refresh_margin: float = 300.0
    orphan_grace: float = 900.0
    delete_interval: float = 10.0
    background_deletes: bool = True


def upload_budget(options: DiscordStoreOptions, lanes: int) -> int:
    """Bytes of chunks the packer may hold at once (``DISCORD_UPLOAD_BUFFER_BYTES``): the
    setting, or by default one full message per lane (as many largest chunks as fit one
    request, at most ``max_attachments``), which is what keeps every lane busy."""
    if options.upload_buffer_bytes:
        return options.upload_buffer_bytes
    per_message = (options.max_request_bytes - _REQUEST_OVERHEAD) // options.max_file_bytes
    files = max(1, min(options.max_attachments, per_message))
    return lanes * files * options.max_file_bytes


def write_ahead(options: DiscordStoreOptions) -> int:
    """Chunk bytes one writer should keep in flight (``Capabilities.write_ahead_bytes``): three
    full requests, so two messages can be posted on two lanes while the writer reads the
    chunks of the next one from its client. With 4 chunks (the writer's default) one 8 MiB
    chunk upload had about one message in flight and waited for each post before reading on:
    a 1 GiB upload over 4 channels + 4 webhooks ran at 131-154 MiB/s, against 157-231 MiB/s
    with 9 chunks (docs/benchmarks.md, issue 15). Bounded by the shared budget anyway."""
    return 3 * (options.max_request_bytes - _REQUEST_OVERHEAD)


def random_name() -> str:
    """An opaque attachment name: nothing about the file, unique per attachment."""
    return secrets.token_hex(16) + ".bin"


class DiscordChunkStore:
    """A :class:`~cordvault.storage.base.ChunkStore` on Discord. Thread-safe.

    ``clients``: one per bot token (index = the locator's ``bot``); ``channel_ids``: where to
    write. ``webhooks``: extra upload lanes (their messages are read and bulk-deleted by the
    first bot, so it must see their channels). ``sessions``: the database holding the ledger
    (migrated). ``engine``, when given, is disposed by :meth:`close`. The store owns and closes
    the clients.
    """

    def __init__(
        self,
        clients: Sequence[DiscordClient],
        channel_ids: Sequence[str],
        sessions: sessionmaker[Session],
        options: DiscordStoreOptions | None = None,
        *,
        webhooks: Sequence[Webhook] = (),
        engine: Engine | None = None,
    ) -> None:
        if not clients or not (channel_ids or webhooks):
            raise CordvaultError(
                ErrorCode.MISSING_SETTINGS,
                "the Discord store needs a bot token and at least one channel",
                details={"names": ["DISCORD_BOT_TOKEN", "DISCORD_CHANNEL_IDS"]},
            )
        self.options = opts = options or DiscordStoreOptions()
        if opts.max_file_bytes < 1 or not 1 <= opts.max_attachments <= 10:
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "DISCORD_MAX_FILE_BYTES must be positive and DISCORD_MAX_ATTACHMENTS 1..10",
                details={"names": ["DISCORD_MAX_FILE_BYTES", "DISCORD_MAX_ATTACHMENTS"]},
            )
        budget = opts.max_request_bytes - _REQUEST_OVERHEAD
        if budget < opts.max_file_bytes:
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "DISCORD_MAX_FILE_BYTES must leave room in a 25 MiB request",
                details={"names": ["DISCORD_MAX_FILE_BYTES"]},
            )
        self._clients = list(clients)
        self._channel_ids = list(channel_ids)
        self._webhooks = list(webhooks)
        # A webhook's channel, learned from its first message (for the orphan journal).
        self._webhook_channels: dict[int, str] = {}
        self._engine = engine
        self.ledger = Ledger(sessions)
        self.urls = UrlCache(self._clients, margin=opts.url_refresh_margin)
        self.deleter = Deleter(
            self.ledger,
            self._clients,
            webhooks=self._webhooks,
            orphan_grace=opts.orphan_grace,
            interval=opts.delete_interval,
            on_deleted=self.urls.forget,
        )
        lanes = [Lane(bot, channel) for bot in range(len(self._clients)) for channel in channel_ids]
        lanes += [Lane(WEBHOOK_BASE + n, "") for n in range(len(self._webhooks))]
        self.packer = Packer(
            self._post,
            lanes,
            workers_per_lane=opts.uploads_per_channel,
            max_files=opts.max_attachments,
            max_request_bytes=budget,
            window=opts.pack_window,
            ready=self._lane_wait,
            max_held_bytes=upload_budget(opts, len(lanes)),
        )
        self._capabilities = Capabilities(
            max_chunk_size=opts.max_file_bytes,
            ranged_reads=True,
            batch_put=opts.max_attachments > 1,
            max_batch=opts.max_attachments,
            write_ahead_bytes=write_ahead(opts),
        )
        if opts.background_deletes:
            self.deleter.start()

    def _lane_wait(self, lane: Lane) -> float | None:
        """How long the lane's pacer would hold a message post back now (see the packer)."""
        if lane.bot >= WEBHOOK_BASE:
            hook = self._webhooks[lane.bot - WEBHOOK_BASE]
            params = {"webhook_id": hook.id, "webhook_token": hook.token}
            route = Route("POST", _EXECUTE, params)
            return self._clients[0].pacer.wait_estimate(route, use_global=False)
        route = Route("POST", _CREATE, {"channel_id": lane.channel_id})
        return self._clients[lane.bot].pacer.wait_estimate(route)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def clients(self) -> list[DiscordClient]:
        return list(self._clients)

    # -- writes ------------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        if len(chunks) > self._capabilities.max_batch:
            raise ValueError(f"at most {self._capabilities.max_batch} chunks per put_many")
        for chunk in chunks:
            if len(chunk) > self._capabilities.max_chunk_size:
                raise ValueError(
                    f"chunk of {len(chunk)} bytes exceeds {self._capabilities.max_chunk_size}"
                )
        if not chunks:
            return []
        futures = self.packer.submit(chunks)
        locators = [str(loc) for loc in self._gather(futures)]
        STORAGE_BYTES.labels("discord", "uploaded").inc(sum(len(c) for c in chunks))
        return locators

    def _gather(self, futures: list[Future[Locator]]) -> list[Locator]:
        """All locators, or (after recording the stored ones as deleted) the first error."""
        stored: list[Locator] = []
        failure: BaseException | None = None
        for future in futures:
            try:
                stored.append(future.result())
            except BaseException as exc:
                failure = failure or exc
        if failure is None:
            return stored
        for loc in stored:
            self._delete(loc)
        if isinstance(failure, StorageError):
            raise failure
        if isinstance(failure, DiscordError):
            raise storage_error(failure) from failure
        raise failure

    def put_named(self, data: bytes, name: str) -> str:
        """Post ``data`` alone in a message of the first bot, in a random channel, as
        ``<name>.bin`` (the shape of every chunk's attachment name)."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError("an object name is 32 lowercase hex characters")
        if len(data) > self._capabilities.max_chunk_size:
            raise ValueError(f"chunk of {len(data)} bytes exceeds the store's limit")
        if not self._channel_ids:
            raise StorageError("named objects need a channel in DISCORD_CHANNEL_IDS")
        lane = Lane(0, secrets.choice(self._channel_ids))
        locator = str(self._post(lane, [data], [name + ".bin"])[0])
        STORAGE_BYTES.labels("discord", "uploaded").inc(len(data))
        return locator

    def scan_named(self) -> Iterator[NamedObject]:
        """Page every channel's history newest first (100 messages a request) and yield each
        attachment named like a chunk; the locator names the first bot."""
        client = self._clients[0]
        for channel in self._channel_ids:
            before: str | None = None
            while True:
                try:
                    page = client.get_messages(channel, before=before, limit=_PAGE)
                except DiscordError as exc:
                    raise storage_error(exc) from exc
                for message in page:
                    count = len(message.attachments)
                    for index, attachment in enumerate(message.attachments):
                        match = _ATTACHMENT_NAME.fullmatch(attachment.filename)
                        if match is None:
                            continue
                        loc = Locator(
                            0, channel, message.id, attachment.id, index, count, attachment.size
                        )
                        yield NamedObject(match.group(1), str(loc), int(message.id))
                if len(page) < _PAGE:
                    break
                before = page[-1].id

    def _post(
        self, lane: Lane, chunks: list[bytes], given_names: list[str] | None = None
    ) -> list[Locator]:
        """Post one message carrying ``chunks`` (under ``given_names``, else random ones);
        journaled so a lost outcome is collected. Once it returns, nothing of the request
        references the chunks (the client releases its multipart body, see
        :class:`cordvault.discord.client.MultipartBody`): they are freed as soon as the packer
        and the caller drop them, without waiting for a garbage collection."""
        if lane.bot >= WEBHOOK_BASE:
            return self._post_webhook(lane.bot, chunks)
        return self._post_bot(lane, chunks, given_names)

    def _post_bot(
        self, lane: Lane, chunks: list[bytes], given_names: list[str] | None
    ) -> list[Locator]:
        names = given_names or [random_name() for _ in chunks]
        files = [
            (name, data if data else secrets.token_bytes(1))
            for name, data in zip(names, chunks, strict=True)
        ]
        client = self._clients[lane.bot]
        nonce = secrets.token_hex(12)
        self.ledger.begin_post(names[0], lane.bot, lane.channel_id)
        try:
            message = self._create(client, lane.channel_id, files, nonce)
        except DiscordOutcomeUnknown as exc:
            # The journal row stays: the orphan collector deletes the message if it exists.
            raise storage_error(exc) from exc
        except DiscordError as exc:
            self.ledger.end_post([names[0]])  # refused: nothing was created
            raise storage_error(exc) from exc
        locators = _locators(lane.bot, message, names, chunks)
        self.urls.remember(message)
        self.ledger.end_post([names[0]])
        return locators

    def _post_webhook(self, bot: int, chunks: list[bytes]) -> list[Locator]:
        """Post through a webhook. Webhooks take no nonce, so an attempt whose outcome is
        unknown is not repeated as is: it stays journaled (its message, if any, is an orphan
        the deleter collects) and the next attempt posts under new names."""
        hook = self._webhooks[bot - WEBHOOK_BASE]
        for attempt in range(_WEBHOOK_ATTEMPTS):
            names = [random_name() for _ in chunks]
            files = [
                (name, data if data else secrets.token_bytes(1))
                for name, data in zip(names, chunks, strict=True)
            ]
            self.ledger.begin_post(names[0], bot, self._webhook_channels.get(bot, ""))
            try:
                message = self._clients[0].execute_webhook(hook.id, hook.token, files)
            except DiscordOutcomeUnknown as exc:
                if attempt + 1 == _WEBHOOK_ATTEMPTS:
                    raise storage_error(exc) from exc
                continue
            except DiscordError as exc:
                self.ledger.end_post([names[0]])
                raise storage_error(exc) from exc
            self._webhook_channels[bot] = message.channel_id
            locators = _locators(bot, message, names, chunks)
            self.urls.remember(message)
            self.ledger.end_post([names[0]])
            return locators
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _create(
        client: DiscordClient, channel_id: str, files: list[tuple[str, bytes]], nonce: str
    ) -> Message:
        try:
            return client.create_message(channel_id, files, nonce=nonce)
        except DiscordOutcomeUnknown:
            # Same nonce: Discord answers with the message if the first attempts created it.
            time.sleep(1.0)
            return client.create_message(channel_id, files, nonce=nonce)

    # -- reads -------------------------------------------------------------------------------

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes | bytearray:
        loc = Locator.parse(locator)
        if loc is None:
            raise ChunkNotFound()
        stop = loc.size if end is None else end
        if not 0 <= start <= stop <= loc.size:
            raise ValueError(f"range [{start}, {end}) outside a chunk of {loc.size} bytes")
        if self.ledger.is_deleted(loc):
            raise ChunkNotFound()
        if start == stop:
            self.urls.resolve(loc)  # still answers ChunkNotFound for a vanished message
            return b""
        data = self.urls.fetch(loc, start, None if stop == loc.size else stop)
        if len(data) != stop - start:
            raise StorageUnavailable("Discord CDN returned a short attachment")
        STORAGE_BYTES.labels("discord", "downloaded").inc(len(data))
        return data

    # -- deletes -----------------------------------------------------------------------------

    def delete(self, locator: str) -> None:
        loc = Locator.parse(locator)
        if loc is not None:
            self._delete(loc)

    def _delete(self, loc: Locator) -> None:
        self.ledger.record_deletion(loc)
        self.deleter.wake()

    def flush_deletions(self, *, orphan_grace: float | None = None) -> DeletionReport:
        """Delete everything due now, in the calling thread (tests, CLI, shutdown); see
        :meth:`Deleter.run_once` for ``orphan_grace``."""
        return self.deleter.run_once(orphan_grace=orphan_grace)

    def close(self) -> None:
        self.packer.close()
        self.deleter.close()
        for client in self._clients:
            client.close()
        if self._engine is not None:
            self._engine.dispose()


def _locators(bot: int, message: Message, names: list[str], chunks: list[bytes]) -> list[Locator]:
    """Map the posted files back to their attachments (by their unique random names)."""
    by_name = {a.filename: a for a in message.attachments}
    out = []
    for index, (name, data) in enumerate(zip(names, chunks, strict=True)):
        attachment = by_name.get(name)
        expected = len(data) if data else 1
        if attachment is None or attachment.size != expected:
            raise StorageUnavailable("Discord stored a message that does not match the upload")
        out.append(
            Locator(
                bot, message.channel_id, message.id, attachment.id, index, len(chunks), len(data)
            )
        )
    return out


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def store_options(settings: Settings) -> DiscordStoreOptions:
    """The store's tunables from the settings."""
    return DiscordStoreOptions(
        max_file_bytes=settings.discord_max_file_bytes,
        max_attachments=settings.discord_max_attachments,
        uploads_per_channel=settings.discord_uploads_per_channel,
        upload_buffer_bytes=settings.discord_upload_buffer_bytes,
        url_refresh_margin=settings.discord_url_refresh_margin_seconds,
        orphan_grace=settings.discord_orphan_grace_seconds,
    )


def open_clients(settings: Settings, **client_options: object) -> list[DiscordClient]:
    """One client (with its own pacer) per token in ``DISCORD_BOT_TOKEN``."""
    raw = settings.discord_bot_token.get_secret_value() if settings.discord_bot_token else ""
    return [
        DiscordClient(settings.discord_api_base, token, **client_options)  # type: ignore[arg-type]
        for token in _split(raw)
    ]


def open_webhooks(settings: Settings) -> list[Webhook]:
    """The webhooks of ``DISCORD_WEBHOOK_URLS`` (``INVALID_SETTINGS`` for a malformed one)."""
    raw = settings.discord_webhook_urls
    return parse_webhook_urls(raw.get_secret_value() if raw is not None else "")


def open_discord_store(
    settings: Settings, sessions: sessionmaker[Session] | None = None
) -> DiscordChunkStore:
    """Build the store from the settings (``MISSING_SETTINGS`` lists every missing name).

    ``sessions``: the process's sessions on the (migrated) main database, which holds the
    ledger; the composition root passes its own, and the store then leaves their engine alone.
    Without it the store migrates ``DATABASE_URL``, opens its own engine and disposes of it on
    :meth:`DiscordChunkStore.close`.
    """
    missing = []
    if not _split(
        settings.discord_bot_token.get_secret_value() if settings.discord_bot_token else ""
    ):
        missing.append("DISCORD_BOT_TOKEN")
    channels = _split(settings.discord_channel_ids)
    webhooks = open_webhooks(settings)
    if not channels and not webhooks:
        missing.append("DISCORD_CHANNEL_IDS")
    if missing:
        raise CordvaultError(
            ErrorCode.MISSING_SETTINGS,
            f"STORAGE_BACKEND=discord needs: {', '.join(missing)}",
            details={"names": missing},
        )
    bad = [c for c in channels if not c.isdigit() or len(c) > 20]
    if bad:
        raise CordvaultError(
            ErrorCode.INVALID_SETTINGS,
            "DISCORD_CHANNEL_IDS must be comma-separated Discord ids",
            details={"names": ["DISCORD_CHANNEL_IDS"]},
        )
    engine: Engine | None = None
    if sessions is None:
        url = settings.effective_database_url
        migrate(url)
        engine = create_engine_for(url)
        sessions = make_sessionmaker(engine)
    clients = open_clients(settings, backoff=Backoff(base=0.5, cap=10.0))
    try:
        return DiscordChunkStore(
            clients,
            channels,
            sessions,
            store_options(settings),
            webhooks=webhooks,
            engine=engine,
        )
    except BaseException:
        for client in clients:
            client.close()
        if engine is not None:
            engine.dispose()
        raise
