"""The packer releases a chunk's bytes once its message is posted."""

from __future__ import annotations

import threading
import time
import tracemalloc

from cordvault.storage.base import StorageUnavailable
from cordvault.storage.discord.locator import Locator
from cordvault.storage.discord.packer import Lane, Packer

MiB = 1024 * 1024


def test_idle_lane_workers_do_not_keep_posted_chunks() -> None:
    """16 lane workers each post once and then wait for work: the chunks they posted must not
    stay alive while they wait (they used to, ~400 MB during a drive upload on Discord)."""
    lock = threading.Lock()
    posted = 0

    def post(lane: Lane, chunks: list[bytes]) -> list[Locator]:
        nonlocal posted
        with lock:
            posted += 1
        time.sleep(0.05)  # every worker gets a batch
        return [Locator(0, "1", str(n + 1), str(n + 1), n, len(chunks), len(c))
                for n, c in enumerate(chunks)]  # fmt: skip

    lanes = [Lane(0, str(n + 1)) for n in range(8)]
    packer = Packer(post, lanes, workers_per_lane=2, max_files=1, window=0.0, fill_wait=0.0)
    tracemalloc.start()
    try:
        futures = packer.submit([bytes([n]) * MiB for n in range(16)])
        for future in futures:
            future.result(timeout=30)
        del futures
        time.sleep(0.2)  # the workers are back waiting for work
        held, _peak = tracemalloc.get_traced_memory()
        assert posted >= 8
        assert held < 4 * MiB, f"{held / MiB:.1f} MiB of posted chunks still held"
    finally:
        tracemalloc.stop()
        packer.close()


def test_submit_waits_for_room_in_the_byte_budget_and_fails_once_closed() -> None:
    """A submit that would exceed the shared budget blocks until a post releases its chunks;
    a submit still waiting when the packer closes fails instead of hanging."""
    gate = threading.Event()

    def post(lane: Lane, chunks: list[bytes]) -> list[Locator]:
        gate.wait(30)
        return [Locator(0, "1", "1", "1", n, len(chunks), len(c)) for n, c in enumerate(chunks)]

    packer = Packer(post, [Lane(0, "1")], workers_per_lane=1, max_files=1, window=0.0,
                    fill_wait=0.0, max_held_bytes=2 * MiB)  # fmt: skip
    try:
        first = packer.submit([b"a" * MiB, b"b" * MiB])
        assert packer.held_bytes == 2 * MiB
        later: list[object] = []
        waiting = threading.Thread(target=lambda: later.extend(packer.submit([b"c" * MiB])))
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive(), "submit went past a full budget"
        gate.set()  # the first post ends and gives its megabyte back
        waiting.join(10)
        assert not waiting.is_alive()
        assert len(later) == 1
        for future in first:
            future.result(timeout=10)
    finally:
        packer.close()
    assert packer.held_bytes <= MiB

    closing = Packer(post, [Lane(0, "1")], workers_per_lane=1, max_files=1, max_held_bytes=MiB)
    gate.clear()
    blocked = closing.submit([b"x" * MiB])
    errors: list[BaseException] = []

    def submit_more() -> None:
        try:
            closing.submit([b"y" * MiB])
        except StorageUnavailable as exc:
            errors.append(exc)

    waiter = threading.Thread(target=submit_more)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()
    threading.Timer(0.3, gate.set).start()  # the running post ends after close is called
    closing.close()
    waiter.join(10)
    assert len(errors) == 1
    blocked[0].result(timeout=10)
