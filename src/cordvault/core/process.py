"""Process-level hardening: private file modes and a bounded shutdown.

- :func:`restrict_umask` (``cordvault serve`` and ``cordvault worker`` call it first): every
  file and directory the process creates is private to its user (0600 / 0700), including the
  SQLite ``-wal`` / ``-shm`` files, blobs, chunks and temporary files.
- :func:`private_dir` creates a state directory with mode 0700 (whatever the umask) and, for an
  existing one, warns when other users may read it (it is not changed: the operator decides).
- :func:`install_shutdown_watchdog`: a server whose worker threads are stuck (a request spinning
  in the thread pool, a hung lifespan) must still stop. After the first SIGTERM/SIGINT a daemon
  timer runs; if the process is still alive when it fires, it logs and ends the process with
  ``os._exit`` (non-daemon threads would otherwise keep the interpreter waiting forever).
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
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


def private_dir(path: Path, *, what: str = "directory") -> Path:
    """Create ``path`` (and parents) with mode 0700; warn if an existing one is open to others.

    The warning names the mode, never the contents. ``what`` names the directory in it (e.g.
    ``DATA_DIR``).
    """
    existed = path.is_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not existed:
        # mkdir's mode is filtered by the umask; make sure of 0700 whatever the umask is.
        os.chmod(path, 0o700)
        return path
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "%s %s is accessible by other users (mode %04o); run chmod 700 on it",
            what,
            path,
            mode,
        )
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file is kept)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


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
