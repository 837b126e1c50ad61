"""The packer releases a chunk's bytes once its message is posted."""

from __future__ import annotations

import threading
import time
import tracemalloc

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
