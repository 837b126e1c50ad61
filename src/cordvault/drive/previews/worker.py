"""Background thumbnail workers: ``PREVIEW_WORKERS`` threads per serving process.

Each thread loops: sweep previews of deleted files now and then, claim and make pending
thumbnails (:func:`.service.run_pending`), then wait for :meth:`PreviewWorkers.wake` (the
composition root calls it for every upload event it hears) or ``PREVIEW_POLL_SECONDS``. The
rendering itself happens in child processes, so a hostile file never takes a thread down; any
other error is logged and the loop goes on (the row's lease makes the file come back later).
"""

from __future__ import annotations

import logging
import threading
import time

from cordvault.drive.context import DriveContext
from cordvault.drive.previews.service import run_pending, sweep

log = logging.getLogger(__name__)

_SWEEP_EVERY = 60.0


class PreviewWorkers:
    def __init__(self, ctx: DriveContext, workers: int | None = None) -> None:
        self.ctx = ctx
        self.count = ctx.settings.preview_workers if workers is None else workers
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_sweep = 0.0

    def start(self) -> None:
        for i in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"cordvault-preview-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the runs in progress (each bounded by ``PREVIEW_TIMEOUT_SECONDS``)."""
        self._stop.set()
        self._wakeup.set()
        for thread in self._threads:
            thread.join(timeout=self.ctx.settings.preview_timeout_seconds + 5)
        self._threads.clear()

    def wake(self) -> None:
        self._wakeup.set()

    def _loop(self) -> None:
        poll = self.ctx.settings.preview_poll_seconds
        while not self._stop.is_set():
            self._wakeup.clear()
            try:
                now = time.monotonic()
                if now - self._last_sweep > _SWEEP_EVERY:
                    self._last_sweep = now
                    sweep(self.ctx)
                done = run_pending(self.ctx, limit=5)
            except Exception as exc:  # DB or store trouble: try again on the next round
                log.error("thumbnail worker error: %s", type(exc).__name__, exc_info=True)
                done = {}
            if not done:
                self._wakeup.wait(poll)
