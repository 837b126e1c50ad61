"""Process-level hardening: private file modes and a bounded shutdown.

- :func:`restrict_umask` (``cordvault serve`` and ``cordvault worker`` call it first): every
  file and directory the process creates is private to its user (0600 / 0700), including the
  SQLite ``-wal`` / ``-shm`` files, blobs, chunks and temporary files.
  Directories and files that must be private whatever the umask: ``core/files.py``.
- :func:`install_shutdown_watchdog`: a server whose worker threads are stuck (a request spinning
  in the thread pool, a hung lifespan) must still stop. After the first SIGTERM/SIGINT a daemon
  timer runs; if the process is still alive when it fires, it logs and ends the process with
  ``os._exit`` (non-daemon threads would otherwise keep the interpreter waiting forever).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
"""Group and others get no access to anything the process creates."""

SHUTDOWN_MARGIN_SECONDS = 5.0
"""Time the app's own shutdown (lifespan) gets after the request grace period."""

FORCED_EXIT_CODE = 1


def restrict_umask() -> int:
    """Set the process umask to :data:`PRIVATE_UMASK`; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def install_shutdown_watchdog(deadline_seconds: float) -> Callable[[], None]:
    """Arm a forced exit ``deadline_seconds`` after the first SIGTERM/SIGINT.

    The current handlers (uvicorn's, which start the graceful shutdown) are kept and called
    after the timer is started. Only possible in the main thread; elsewhere (test clients, a
    server run in a thread) this does nothing. Returns a function restoring the previous
    handlers; a timer already running keeps running (it covers the interpreter's exit too).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    armed = threading.Event()

    def fire() -> None:
        busy = [
            t.name
            for t in threading.enumerate()
            if not t.daemon and t is not threading.main_thread()
        ]
        log.error(
            "shutdown did not finish within %.0f s of the stop signal (%d non-daemon threads "
            "still running); ending the process",
            deadline_seconds,
            len(busy),
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(FORCED_EXIT_CODE)

    def arm() -> None:
        if armed.is_set():
            return
        armed.set()
        timer = threading.Timer(deadline_seconds, fire)
        timer.name = "cordvault-shutdown-watchdog"
        timer.daemon = True
        timer.start()

    previous: dict[int, _Handler] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        before = signal.getsignal(sig)
        previous[sig] = before

        def handler(signum: int, frame: FrameType | None, before: _Handler = before) -> None:
            arm()
            if callable(before):
                before(signum, frame)
            elif before in (signal.SIG_DFL, None):
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if before is not None:
                signal.signal(sig, before)

    return restore
