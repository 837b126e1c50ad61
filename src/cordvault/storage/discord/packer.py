"""Packing queued chunks into Discord messages, and the upload lanes that post them.

Discord limits messages, not bytes: 5 message posts per 5 s per channel, up to 10 attachments
and 25 MiB per request. A message carrying three 8 MiB chunks moves three times the bytes of
one carrying a single chunk for the same share of the rate limit. The drive stores chunks with
one ``put`` per chunk from several threads, so packing happens here: :meth:`Packer.submit`
queues chunks and returns futures; each *lane* (one bot token x one channel) runs
``workers_per_lane`` threads that take the oldest queued chunks, up to ``max_files`` of them
and ``max_request_bytes`` together, and post them as one message. A worker takes chunks only
when its lane may post at once (``ready``: the pacer's wait estimate), so chunks pile up in the
queue, not in a request stuck behind the rate limit, and the lane's next message is a full
one. A partial message waits for company while other posts are under way (their callers come
right back with more chunks) or chunks keep arriving, at most ``fill_wait`` seconds, and
leaves once nothing is posting and nothing arrived for ``window`` seconds: with few writers
(a drive upload keeps about three messages of chunks in flight) a partial message would spend
a scarce post on few bytes. Lanes pull work, so a channel whose bucket is empty simply takes
nothing while the others carry on: writes spread over channels (and tokens) by themselves.

Memory: every chunk from :meth:`Packer.submit` until its post is over (queued, waiting for its
lane, or being posted) counts against ONE byte budget shared by all lanes (``max_held_bytes``).
``submit`` blocks while the budget is full, so the caller (ultimately a drive upload reading its
request body) waits instead of piling chunks up: back-pressure reaches the client's socket.
A chunk's bytes are dropped, and its share of the budget returned, as soon as its post is over.

Chunks of one ``submit`` call are kept in order in the queue but may land in several messages
(a batch larger than one request). A failed post fails the futures of its chunks only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from cordvault.storage.base import StorageUnavailable
from cordvault.storage.discord.locator import Locator


@dataclass(frozen=True)
class Lane:
    """Where a worker posts: a bot (its index in the token list) and a channel."""

    bot: int
    channel_id: str


@dataclass
class _Item:
    data: bytes
    queued_at: float
    future: Future[Locator] = field(default_factory=Future)


PostFn = Callable[[Lane, list[bytes]], list[Locator]]


class Packer:
    """Queues chunks and posts them in packed messages from lane worker threads."""

    def __init__(
        self,
        post: PostFn,
        lanes: Sequence[Lane],
        *,
        workers_per_lane: int = 2,
        max_files: int = 10,
        max_request_bytes: int = 25 * 1024 * 1024,
        window: float = 0.05,
        fill_wait: float = 1.0,
        ready: Callable[[Lane], float | None] | None = None,
        max_held_bytes: int | None = None,
    ) -> None:
        if not lanes or workers_per_lane < 1 or max_files < 1:
            raise ValueError("a packer needs lanes, workers and room for one file")
        if max_held_bytes is not None and max_held_bytes < 1:
            raise ValueError("the packer's byte budget must be positive")
        self._post = post
        self._max_files = max_files
        self._budget = max_request_bytes
        self._window = window
        self._ready = ready
        self._fill_wait = max(window, fill_wait)
        self._last_event = time.monotonic()  # the latest chunk queued or post finished
        self._in_flight = 0  # posts under way: their callers come back with more chunks
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._held_limit = max_held_bytes
        self.held_bytes = 0
        """Bytes of chunks submitted and not yet released (queued or being posted)."""
        self.messages_posted = 0
        self.chunks_posted = 0
        self._threads = [
            threading.Thread(target=self._work, args=(lane,), name=f"discord-lane-{n}", daemon=True)
            for n, lane in enumerate(lane for lane in lanes for _ in range(workers_per_lane))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, chunks: Sequence[bytes]) -> list[Future[Locator]]:
        """Queue chunks (each at most ``max_request_bytes``); one future per chunk, in order.

        Blocks while the chunks would take the held bytes past ``max_held_bytes`` (a call is
        let through when nothing is held, so a batch larger than the budget cannot wait
        forever). Raises ``StorageUnavailable`` once the packer is closed, even while waiting.
        """
        size = sum(len(chunk) for chunk in chunks)
        with self._cond:
            while (
                not self._closed
                and self._held_limit is not None
                and self.held_bytes
                and self.held_bytes + size > self._held_limit
            ):
                self._cond.wait()
            if self._closed:
                raise StorageUnavailable("the Discord store is closed")
            now = time.monotonic()
            items = [_Item(bytes(chunk), now) for chunk in chunks]
            self.held_bytes += size
            self._queue.extend(items)
            self._last_event = now
            self._cond.notify_all()
        return [item.future for item in items]

    def close(self) -> None:
        """Stop the workers after the posts in progress; queued chunks fail."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self.held_bytes -= sum(len(item.data) for item in left)
            self._cond.notify_all()
        for item in left:
            item.future.set_exception(StorageUnavailable("the Discord store is closed"))
        for thread in self._threads:
            thread.join(timeout=60)

    # -- workers -----------------------------------------------------------------------------

    def _fits(self, count: int, size: int, extra: int) -> bool:
        return count < self._max_files and size + extra <= self._budget

    def _full(self) -> bool:
        """Whether the queue already holds a full message (no reason to wait for more)."""
        size = 0
        for count, item in enumerate(self._queue):
            if not self._fits(count, size, len(item.data)):
                return True
            size += len(item.data)
        return False

    def _take(self) -> list[_Item] | None:
        """Wait for work and return the next message's chunks (None: closed)."""
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return None
                # Chunks that queued while the lanes were held back count from now on.
                first = max(self._queue[0].queued_at, time.monotonic() - self._window)
                while self._queue and not self._closed and not self._full():
                    # Wait for a full message while chunks keep coming (or posts finishing,
                    # whose callers come right back with more): a partial message spends a
                    # scarce post on few bytes. Go once things are quiet for ``window``.
                    limit = first + self._fill_wait
                    if not self._in_flight:
                        limit = min(limit, self._last_event + self._window)
                    remaining = limit - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if not self._queue:
                    continue  # another worker took it meanwhile
                batch = [self._queue.popleft()]
                size = len(batch[0].data)
                while self._queue and self._fits(len(batch), size, len(self._queue[0].data)):
                    item = self._queue.popleft()
                    batch.append(item)
                    size += len(item.data)
                self._in_flight += 1
                return batch

    def _await_lane(self, lane: Lane) -> bool:
        """Wait, holding no chunks, until there is work and ``lane`` may post (False: closed).

        While a lane is held back by its rate limit, chunks keep queueing, so the message it
        posts when its turn comes is a full one; other lanes take work meanwhile.
        """
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return False
            delay = 0.0 if self._ready is None else self._ready(lane)
            if delay is not None and delay <= 0:
                return True
            with self._cond:
                if self._stopping():
                    return False
                self._cond.wait(min(delay if delay is not None else 0.05, 0.25))

    def _stopping(self) -> bool:
        return self._closed

    def _work(self, lane: Lane) -> None:
        while True:
            if not self._await_lane(lane):
                return
            batch = self._take()
            if batch is None:
                return
            if self._ready is not None and self._ready(lane) != 0:
                # The lane's budget went (e.g. to its other worker) while the batch filled:
                # hand the chunks back rather than hold them behind the rate limit.
                with self._cond:
                    self._in_flight -= 1
                    self._queue.extendleft(reversed(batch))
                    self._cond.notify_all()
                continue
            try:
                locators = self._post(lane, [item.data for item in batch])
            except BaseException as exc:
                self._posted(0)
                self._release(batch)
                for item in batch:
                    item.future.set_exception(exc)
                continue
            self._posted(len(batch))
            self._release(batch)
            for item, locator in zip(batch, locators, strict=True):
                item.future.set_result(locator)

    def _release(self, batch: list[_Item]) -> None:
        """Drop the chunks' bytes as soon as their post is over and give their bytes back to
        the budget: a worker waiting for its lane's next turn still references its last
        batch, and with 16 lane workers that kept up to 48 envelopes (~400 MB) alive after
        their upload (docs/benchmarks.md, "Drive on Discord"). The caller's ``put`` holds its
        own reference until it returns."""
        size = 0
        for item in batch:
            size += len(item.data)
            item.data = b""
        with self._cond:
            self.held_bytes -= size
            self._cond.notify_all()  # a blocked submit may go on

    def _posted(self, chunks: int) -> None:
        with self._cond:
            self._in_flight -= 1
            self._last_event = time.monotonic()
            self.messages_posted += chunks > 0
            self.chunks_posted += chunks
            self._cond.notify_all()  # a worker waiting for a fuller message re-evaluates
