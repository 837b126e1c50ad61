"""Tuning of Python's cyclic garbage collector for long-lived server processes.

A server with many live objects (1,000 WebSockets: their tasks, queues, protocol state)
pays for every young-generation collection that escalates to an older one, and the full
collections walk every tracked object: measured on this 2-core machine with
``benchmarks/live_sockets.py`` (1,000 sockets, 100 events/s), those pauses were the whole
latency tail (p99 158-173 ms with Python's default thresholds of 700/10/10, 73 ms with the
collector off, see docs/benchmarks.md). Raising the first threshold makes young collections
rarer and each one cheaper relative to the work done between them, and ``gc.freeze`` moves
what exists at startup (modules, the app, the services) out of every later collection.

Cycles are still collected: only how often changes. Code that creates large cycles on
purpose collects them itself (the Discord upload path does, ``storage/discord``).
"""

from __future__ import annotations

import gc


def tune_collector(gen0_threshold: int) -> bool:
    """Freeze the objects alive now and raise the first collection threshold.

    Call once, after the app is built and before it serves. ``gen0_threshold`` 0 keeps
    Python's defaults (nothing is changed). Returns whether anything was changed.
    """
    if gen0_threshold <= 0:
        return False
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    return True
