"""The Discord backend against the emulator over real HTTP: the conformance suite, plus what is
specific to Discord (ids-only locators, opaque names, packing, channel spread, Range reads,
URL cache and refresh, background deletion, orphans, settings)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker
from tests.storage.conformance import ChunkStoreConformance
from tests.storage.discord_support import (
    CHANNELS,
    MARKER,
    OTHER_TOKEN,
    TOKEN,
    WEBHOOK,
    make_clients,
    make_store,
)

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.discord.emulator import EmulatorHandle, FaultRule
from cordvault.storage.base import ChunkNotFound, ChunkStore, StorageError
from cordvault.storage.discord.backend import (
    DiscordChunkStore,
    DiscordStoreOptions,
    open_discord_store,
    open_webhooks,
)
from cordvault.storage.discord.locator import Locator
from cordvault.storage.factory import open_chunk_store

CREATE = "POST /channels/{channel_id}/messages"


class TestDiscordConformance(ChunkStoreConformance):
    @pytest.fixture(autouse=True)
    def _world(self, emulator: EmulatorHandle, sessions: sessionmaker[Session]) -> None:
        self.emulator = emulator
        self.sessions = sessions

    def make_store(self) -> ChunkStore:
        return make_store(self.emulator, self.sessions)


class TestDiscordWebhookConformance(ChunkStoreConformance):
    """The same contract when every chunk goes through a webhook (read by the bot)."""

    @pytest.fixture(autouse=True)
    def _world(self, emulator: EmulatorHandle, sessions: sessionmaker[Session]) -> None:
        self.emulator = emulator
        self.sessions = sessions

    def make_store(self) -> ChunkStore:
        return make_store(self.emulator, self.sessions, channels=(), webhooks=(WEBHOOK,))


@pytest.fixture
def store(emulator: EmulatorHandle, sessions: sessionmaker[Session]) -> Iterator[DiscordChunkStore]:
    s = make_store(emulator, sessions)
    try:
        yield s
    finally:
        s.close()


def test_locators_hold_ids_only_and_discord_sees_nothing_of_the_file(
    emulator: EmulatorHandle, store: DiscordChunkStore
) -> None:
    data = MARKER + os.urandom(1000)
    locator = store.put(data)
    loc = Locator.parse(locator)
    assert loc is not None
    assert str(loc) == locator
    assert re.fullmatch(r"dv1(\.[0-9]+){7}", locator)
    message = emulator.state.messages[loc.message_id]
    assert message.content == ""
    assert [a.id for a in message.attachments] == [loc.attachment_id]
    assert re.fullmatch(r"[0-9a-f]{32}\.bin", message.attachments[0].filename)
    assert loc.channel_id in CHANNELS


def test_parallel_puts_are_packed_into_few_messages_spread_over_channels(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    """24 chunks at 3 a message need 8 posts: more than one channel's burst (5 posts per
    0.5 s here), so a lane whose bucket is empty must leave work to the others. (With 10 a
    message, 3 posts fit one channel's burst, and whether they spread was a race.)"""
    store = make_store(emulator, sessions, max_attachments=3)
    try:
        _check_packed_and_spread(emulator, store)
    finally:
        store.close()


def _check_packed_and_spread(emulator: EmulatorHandle, store: DiscordChunkStore) -> None:
    before = emulator.state.stats().requests[CREATE]
    chunks = [os.urandom(300_000) for _ in range(24)]
    barrier = threading.Barrier(12)
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        barrier.wait()
        for j in (i, i + 12):
            results[j] = store.put(chunks[j])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posts = emulator.state.stats().requests[CREATE] - before
    assert 8 <= posts < 24  # several chunks per message
    locs = [Locator.parse(results[i]) for i in range(24)]
    assert all(loc is not None for loc in locs)
    assert max(loc.count for loc in locs if loc) > 1
    assert len({loc.channel_id for loc in locs if loc}) > 1  # spread over channels
    for i in range(24):
        assert store.get(results[i]) == chunks[i]


def test_a_message_never_exceeds_the_request_budget(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    # 2.5 MiB per request: at most two 1 MiB chunks per message.
    s = make_store(emulator, sessions, max_request_bytes=2 * 1024 * 1024 + 512 * 1024)
    try:
        chunks = [os.urandom(1024 * 1024) for _ in range(5)]
        locators = s.put_many(chunks)
        locs = [Locator.parse(x) for x in locators]
        assert all(loc is not None and loc.count <= 2 for loc in locs)
        assert len({loc.message_id for loc in locs if loc}) >= 3
        assert [s.get(x) for x in locators] == chunks
    finally:
        s.close()


def test_range_reads_ask_the_cdn_for_the_needed_bytes_only(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    clients = make_clients(emulator)
    s = DiscordChunkStore(clients, CHANNELS, sessions, DiscordStoreOptions(pack_window=0.0))
    try:
        data = os.urandom(500_000)
        locator = s.put(data)
        emulator.state.cdn_ranges.clear()
        assert s.get(locator, 1000, 2000) == data[1000:2000]
        assert s.get(locator, 499_990) == data[499_990:]
        assert s.get(locator) == data
        assert list(emulator.state.cdn_ranges) == ["bytes=1000-1999", "bytes=499990-", None]
    finally:
        s.close()


def test_urls_are_cached_refreshed_in_batches_and_retried_once_on_expiry(
    emulator: EmulatorHandle, store: DiscordChunkStore
) -> None:
    chunks = [os.urandom(2000) for _ in range(6)]
    locators = [store.put(c) for c in chunks]  # six messages (sequential puts)
    store.urls._entries.clear()  # a fresh process: nothing cached
    get_one = "GET /channels/{channel_id}/messages/{message_id}"
    get_many = "GET /channels/{channel_id}/messages"
    before = emulator.state.stats().requests
    assert [store.get(x) for x in locators] == chunks
    after = emulator.state.stats().requests
    # One batch refresh per channel touched, no single lookups.
    channels = {Locator.parse(x).channel_id for x in locators}  # type: ignore[union-attr]
    assert after[get_many] - before[get_many] == len(channels)
    assert after[get_one] - before[get_one] == 0
    # Cached: reading again costs no API request.
    assert [store.get(x) for x in locators] == chunks
    assert emulator.state.stats().requests[get_many] == after[get_many]
    # The URLs expire (the emulator's clock jumps): one retry with a fresh URL each.
    emulator.state.advance(3600)
    try:
        assert store.get(locators[0]) == chunks[0]
        assert store.urls.stats.expired_retries >= 1
    finally:
        emulator.state.advance(-3600)


def test_deleted_chunks_are_gone_at_once_and_their_messages_follow(
    emulator: EmulatorHandle, store: DiscordChunkStore
) -> None:
    chunks = [os.urandom(1000) for _ in range(4)]
    locators = store.put_many(chunks)
    locs = [Locator.parse(x) for x in locators]
    message_ids = {loc.message_id for loc in locs if loc}
    store.delete(locators[0])
    with pytest.raises(ChunkNotFound):
        store.get(locators[0])
    assert store.get(locators[1]) == chunks[1]
    store.flush_deletions()
    assert all(m in emulator.state.messages for m in message_ids)  # siblings still live
    for x in locators[1:]:
        store.delete(x)
    report = store.flush_deletions()
    assert report.messages_deleted >= 1
    assert not any(m in emulator.state.messages for m in message_ids)
    for x in locators:
        with pytest.raises(ChunkNotFound):
            store.get(x)


def test_young_messages_go_by_bulk_delete(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    s = make_store(emulator, sessions, channels=CHANNELS[:1], background_deletes=False)
    try:
        locators = [s.put(os.urandom(100)) for _ in range(5)]
        bulk = "POST /channels/{channel_id}/messages/bulk-delete"
        before = emulator.state.stats().requests[bulk]
        for x in locators:
            s.delete(x)
        report = s.flush_deletions()
        assert report.messages_deleted == 5
        assert report.bulk_requests == 1
        assert emulator.state.stats().requests[bulk] - before == 1
        ids = {Locator.parse(x).message_id for x in locators}  # type: ignore[union-attr]
        assert not ids & set(emulator.state.messages)
    finally:
        s.close()


@pytest.fixture
def db_sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """The ledger on SQLite and on PostgreSQL (a fresh, migrated database each)."""
    migrate(db_url)
    engine = create_engine_for(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_a_crash_mid_deletion_is_completed_by_the_next_run(
    emulator: EmulatorHandle, db_sessions: sessionmaker[Session]
) -> None:
    sessions = db_sessions
    first = make_store(emulator, sessions, background_deletes=False)
    locators = [first.put(os.urandom(100)) for _ in range(3)]
    # Discord fails every delete: the first process dies with its records still pending.
    rule = emulator.add_fault(FaultRule("POST /channels/*/messages/bulk-delete", "503"))
    rule2 = emulator.add_fault(FaultRule("DELETE /channels/*/messages/*", "503"))
    try:
        for x in locators:
            first.delete(x)
        report = first.flush_deletions()
        assert report.messages_deleted == 0
        assert report.failures >= 1
    finally:
        rule.times = rule2.times = 0
        first.close()
    ids = {Locator.parse(x).message_id for x in locators}  # type: ignore[union-attr]
    assert ids <= set(emulator.state.messages)
    second = make_store(emulator, sessions, background_deletes=False)
    try:
        second.flush_deletions()
        assert not ids & set(emulator.state.messages)
        for x in locators:
            with pytest.raises(ChunkNotFound):
                second.get(x)
    finally:
        second.close()


def test_orphans_of_lost_posts_are_collected(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    s = make_store(emulator, sessions, background_deletes=False, orphan_grace=0.0)
    try:
        before = set(emulator.state.messages)
        # The post is applied but every answer is lost: the outcome stays unknown.
        rule = emulator.add_fault(FaultRule("POST /channels/*/messages", "drop_response"))
        try:
            with pytest.raises(StorageError):
                s.put(b"lost " * 10)
        finally:
            rule.times = 0
        orphans = set(emulator.state.messages) - before
        assert len(orphans) == 1  # the nonce kept the retries from duplicating it
        report = s.flush_deletions()
        assert report.orphans_deleted == 1
        assert not orphans & set(emulator.state.messages)
    finally:
        s.close()


def test_several_tokens_each_post_with_their_own_pacer(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    s = make_store(emulator, sessions, tokens=(TOKEN, OTHER_TOKEN), channels=CHANNELS[:1])
    try:
        locators = s.put_many([os.urandom(100) for _ in range(2)])
        locators += [s.put(os.urandom(10)) for _ in range(8)]
        bots = {Locator.parse(x).bot for x in locators}  # type: ignore[union-attr]
        assert bots == {0, 1}
        pacers = {id(c.pacer) for c in s.clients}
        assert len(pacers) == 2
        for x in locators:
            s.delete(x)
        s.flush_deletions()
    finally:
        s.close()


def test_open_from_settings_and_missing_settings_are_listed(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    with pytest.raises(CordvaultError) as err:
        open_discord_store(Settings(data_dir=tmp_path, storage_backend="discord"))
    assert err.value.code == ErrorCode.MISSING_SETTINGS
    assert err.value.details["names"] == ["DISCORD_BOT_TOKEN", "DISCORD_CHANNEL_IDS"]
    settings = Settings(
        data_dir=tmp_path,
        storage_backend="discord",
        discord_api_base=emulator.api_base,
        discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_channel_ids=",".join(CHANNELS[:2]),
        discord_max_file_bytes=2 * 1024 * 1024,
    )
    s = open_chunk_store(settings)
    try:
        assert isinstance(s, DiscordChunkStore)
        assert s.capabilities.max_chunk_size == 2 * 1024 * 1024
        assert s.capabilities.max_batch == 10
        locator = s.put(b"hello")
        assert s.get(locator) == b"hello"
    finally:
        s.close()
    bad = settings.model_copy(update={"discord_channel_ids": "12,abc"})
    with pytest.raises(CordvaultError) as err:
        open_discord_store(bad)
    assert err.value.code == ErrorCode.INVALID_SETTINGS


def test_given_sessions_are_used_and_their_engine_is_left_open(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composition root hands its sessions over: no second engine, no second migration,
    and closing the store does not dispose an engine it does not own."""
    import cordvault.storage.discord.backend as backend

    url = f"sqlite:///{tmp_path / 'main.db'}"
    migrate(url)
    engine = create_engine_for(url)
    disposed: list[object] = []
    event.listen(engine, "engine_disposed", disposed.append)
    sessions = make_sessionmaker(engine)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the store must not open or migrate a database of its own")

    monkeypatch.setattr(backend, "create_engine_for", refuse)
    monkeypatch.setattr(backend, "migrate", refuse)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        storage_backend="discord",
        discord_api_base=emulator.api_base,
        discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_channel_ids=CHANNELS[0],
    )
    s = open_chunk_store(settings, sessions)
    try:
        assert isinstance(s, DiscordChunkStore)
        locator = s.put(b"shared ledger")
        s.delete(locator)
        with pytest.raises(ChunkNotFound):
            s.get(locator)
    finally:
        s.close()
    assert disposed == []
    with sessions() as db:  # the ledger row went into the given database
        assert db.execute(text("select count(*) from storage_discord_deletions")).scalar_one() >= 1
    engine.dispose()


def test_a_bad_token_is_a_clear_storage_error(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    s = make_store(emulator, sessions, tokens=("not-a-valid-token",))
    try:
        with pytest.raises(StorageError) as err:
            s.put(b"x")
        assert err.value.code == ErrorCode.DISCORD_AUTH_FAILED
        assert "not-a-valid-token" not in err.value.message
    finally:
        s.close()


def test_webhooks_add_upload_lanes_and_their_messages_are_deleted(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    s = make_store(
        emulator, sessions, channels=CHANNELS[:1], webhooks=(WEBHOOK,), background_deletes=False
    )
    try:
        chunks = [os.urandom(5000) for _ in range(12)]
        locators = [s.put(c) for c in chunks]
        locs = [Locator.parse(x) for x in locators]
        hooked = [loc for loc in locs if loc is not None and loc.bot == 100]
        assert hooked  # some went through the webhook lane
        for loc in hooked:
            message = emulator.state.messages[loc.message_id]
            assert message.webhook_id == WEBHOOK.id
            assert message.channel_id == CHANNELS[2]
        s.urls._entries.clear()
        assert [s.get(x) for x in locators] == chunks
        for x in locators:
            s.delete(x)
        s.flush_deletions()
        ids = {loc.message_id for loc in locs if loc}
        assert not ids & set(emulator.state.messages)
    finally:
        s.close()


def test_webhook_urls_setting(tmp_path: Path) -> None:
    url = f"https://discord.com/api/webhooks/{WEBHOOK.id}/{WEBHOOK.token}"
    settings = Settings(data_dir=tmp_path, discord_webhook_urls=url)  # type: ignore[arg-type]
    assert open_webhooks(settings) == [WEBHOOK]
    bad = Settings(data_dir=tmp_path, discord_webhook_urls="https://x/y?z")  # type: ignore[arg-type]
    with pytest.raises(CordvaultError) as err:
        open_webhooks(bad)
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "x/y" not in err.value.message


def test_two_processes_sharing_a_token_and_channel_stay_correct(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    """Two API processes (two stores, two pacers, one token, one channel) upload at once.

    Their pacers do not see each other's requests, so Discord may answer a few 429s; those are
    honoured and retried, and every chunk lands intact.
    """
    stores = [
        make_store(emulator, sessions, channels=CHANNELS[1:2], background_deletes=False)
        for _ in range(2)
    ]
    try:
        data = {(n, i): os.urandom(20_000) for n in range(2) for i in range(15)}

        def upload(n: int) -> dict[int, str]:
            return {i: stores[n].put(data[(n, i)]) for i in range(15)}

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(upload, range(2)))
        for n, locators in enumerate(results):
            for i, locator in locators.items():
                assert stores[1 - n].get(locator) == data[(n, i)]  # any process reads any chunk
    finally:
        for s in stores:
            s.close()
