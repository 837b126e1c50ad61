"""How many bytes the downloads of one process may fetch and decrypt ahead of their clients.

Every read of a file (:class:`~cordvault.drive.streaming.ChunkReader`) fetches the next chunks
while the current one is sent. That read-ahead is what keeps a download at full speed, but it
is also memory: a client that stops reading leaves its decrypted chunks in the server. With
many slow clients at once (or many concurrent Range reads of large files) that adds up to
``readers x prefetch x chunk size``, unbounded in the number of readers.

:class:`ReadAheadBudget` bounds the sum (``DRIVE_DOWNLOAD_BUFFER_BYTES``). Its contract:

* The chunk a reader's consumer is waiting for is never charged: each read always has one
  chunk it may fetch, so a full budget slows reads down but never stops one (no deadlock,
  whatever other clients do).
* Each further chunk (read-ahead beyond the one being waited for or sent) is charged its
  plaintext size before it is fetched. :meth:`try_take` never blocks: a read that finds the
  budget spent simply does not read ahead until some is given back.
* The charge is given back once the chunk's pieces have all been handed to the consumer, or
  when the read ends early (closed, cancelled, failed).
"""

from __future__ import annotations

import threading


class ReadAheadBudget:
    """A process-wide byte budget for read-ahead, safe to share between threads and loops."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self._used = 0
        self._peak = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes currently charged."""
        return self._used

    @property
    def peak(self) -> int:
        """Most bytes ever charged at once (for tests and benchmarks)."""
        return self._peak

    def try_take(self, size: int) -> bool:
        """Charge ``size`` bytes if they fit in what is left; ``False`` (nothing charged) if not."""
        with self._lock:
            if self._used + size > self.limit:
                return False
            self._used += size
            self._peak = max(self._peak, self._used)
            return True

    def give_back(self, size: int) -> None:
        """Return bytes charged by :meth:`try_take`."""
        if size:
            with self._lock:
                self._used -= size
