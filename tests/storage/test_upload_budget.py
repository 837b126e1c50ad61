"""Uploads to Discord share one byte budget: the chunks the packer and its lanes hold (queued
for a message or being posted) never exceed ``upload_buffer_bytes``; writers wait instead."""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker
from tests.storage.discord_support import WEBHOOK, make_store

from cordvault.crypto import ciphertext_size
from cordvault.discord.emulator import EmulatorHandle
from cordvault.drive.streaming import ChunkReader, ChunkWriter
from cordvault.storage.discord.backend import DiscordStoreOptions, upload_budget
from cordvault.storage.discord.locator import Locator

KiB = 1024
MiB = 1024 * KiB
CHUNK = 960 * KiB  # its envelope fits the 1 MiB attachments of the test store


class HeldBytes:
    """Counts, from outside the packer, the bytes it holds: a chunk counts from the moment
    ``submit`` accepted it until its future is resolved (after its post is over)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def _add(self, n: int) -> None:
        with self._lock:
            self.now += n
            self.peak = max(self.peak, self.now)

    def _released(self, n: int) -> Callable[[Future[Locator]], None]:
        return lambda _future: self._add(-n)

    def wrap(self, submit: object) -> object:
        def counted(chunks: Sequence[bytes]) -> list[Future[Locator]]:
            futures: list[Future[Locator]] = submit(chunks)  # type: ignore[operator]
            for chunk, future in zip(chunks, futures, strict=True):
                self._add(len(chunk))
                future.add_done_callback(self._released(len(chunk)))
            return futures

        return counted


def test_concurrent_uploads_stay_within_the_shared_budget(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    envelope = ciphertext_size(CHUNK)
    budget = 3 * envelope
    store = make_store(emulator, sessions, webhooks=(WEBHOOK,), upload_buffer_bytes=budget)
    held = HeldBytes()
    store.packer.submit = held.wrap(store.packer.submit)  # type: ignore[method-assign]
    sources = [os.urandom(12 * CHUNK + 1234) for _ in range(4)]
    try:

        def upload(n: int) -> tuple[str, list[object]]:
            writer = ChunkWriter(store, bytes([n]) * 32, f"budget{n}", 1, CHUNK, parallel=4)
            data = sources[n]
            result = writer.write_stream(
                data[i : i + 64 * KiB] for i in range(0, len(data), 64 * KiB)
            )
            return result.sha256, list(result.chunks)

        # 4 uploads x 4 chunks in flight each = 16 envelopes without the budget.
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(upload, range(4)))
        assert held.peak <= budget + envelope, f"held {held.peak} bytes, budget {budget}"
        assert held.peak >= budget - envelope, "the uploads never filled the budget"
        assert store.packer.held_bytes == 0
        for n, (digest, chunks) in enumerate(results):
            assert digest == hashlib.sha256(sources[n]).hexdigest()
            reader = ChunkReader(store, bytes([n]) * 32, f"budget{n}", 1, chunks)  # type: ignore[arg-type]
            assert b"".join(reader.iter_range(0, reader.size)) == sources[n]
    finally:
        store.close()


def test_default_budget_is_one_full_message_per_lane() -> None:
    options = DiscordStoreOptions(max_file_bytes=8 * MiB)
    assert upload_budget(options, 8) == 8 * 3 * 8 * MiB  # 3 files of 8 MiB fit 25 MiB
    assert upload_budget(DiscordStoreOptions(max_attachments=2), 4) == 4 * 2 * 10 * MiB
    assert upload_budget(DiscordStoreOptions(upload_buffer_bytes=5 * MiB), 8) == 5 * MiB


def test_posted_chunks_are_freed_without_a_garbage_collection(
    emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    """Once ``put_many`` returned, nothing of the store (packer, lanes, client, its requests)
    references the chunks, with the cyclic collector off: they are freed as soon as the
    caller drops them. httpx keeps each request in a reference cycle; chunks held there
    stayed alive until a collection, and a long upload's memory grew with them."""
    store = make_store(emulator, sessions, webhooks=(WEBHOOK,))
    chunks = [os.urandom(CHUNK + n) for n in range(6)]
    counts = [sys.getrefcount(chunk) for chunk in chunks]
    try:
        gc.collect()
        gc.disable()
        try:
            with ThreadPoolExecutor(3) as pool:  # several lanes post at once
                locators = [loc for locs in pool.map(store.put_many, [chunks[:3], chunks[3:4],
                            chunks[4:]]) for loc in locs]  # fmt: skip
            after = [sys.getrefcount(chunk) for chunk in chunks]
        finally:
            gc.enable()
        assert after == counts, "the store still references chunks it has posted"
        assert store.packer.held_bytes == 0
        for locator, chunk in zip(locators, chunks, strict=True):
            assert store.get(locator) == chunk
    finally:
        store.close()
