"""One authenticated WebSocket: its reader, its bounded send queue, its heartbeat.

- Reader: one packet at a time. A packet over ``LIVE_MAX_PACKET_BYTES`` closes the socket
  (``PACKET_TOO_LARGE``, close code 4413); a binary frame, bad JSON or a bad envelope is
  answered ``INVALID_PACKET``, an unknown id ``UNKNOWN_PACKET``, a packet over the rate
  (``LIVE_PACKETS_PER_SECOND``, token bucket, bursts of twice that) ``RATE_LIMITED``; requests
  run one after another in a worker thread inside one drive transaction (:mod:`.handlers`).
  Nothing received for ``LIVE_IDLE_TIMEOUT_SECONDS`` closes the socket (4408).
- Send queue: every outgoing packet goes through a queue of ``LIVE_SEND_QUEUE`` entries (a
  reply, a heartbeat, or the event packets of one flush, :mod:`.registry`) drained by one
  sender task; a ``?batch=1`` socket gets the packets of one entry, and of entries that queued
  up meanwhile, as one frame (a JSON array). :meth:`push` never waits: a full queue means
  the client reads slower than its events arrive, and it is disconnected (4409) rather than
  buffered without limit; it re-lists after reconnecting.
- Heartbeat: every ``LIVE_HEARTBEAT_SECONDS`` an ``s2c:heartbeat`` is queued and the socket's
  token is verified again (an expired token, a disabled or deleted account closes it, 4401),
  on top of the immediate close on ``account-revoked`` (:mod:`.registry`).

Every method but :meth:`run`'s worker-thread calls runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.websockets import WebSocket

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.drive.context import DriveContext
from cordvault.web.drive.deps import transaction
from cordvault.web.live import protocol
from cordvault.web.live.auth import SocketIdentity, authenticate
from cordvault.web.live.handlers import HANDLERS, Reply

if TYPE_CHECKING:
    from cordvault.web.live.insights import InsightsFeed

log = logging.getLogger(__name__)


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def merge_frames(entries: list[str]) -> str:
    """One JSON-array frame of packets and arrays of packets (text only, no re-encoding)."""
    return "[" + ",".join(e[1:-1] if e.startswith("[") else e for e in entries) + "]"


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        drive: DriveContext,
        identity: SocketIdentity,
        token: str,
        feed: InsightsFeed | None = None,
        *,
        batch: bool = False,
    ) -> None:
        self.websocket = websocket
        self.batch = batch
        """Packets queued together go out as one frame (a JSON array): ``/api/ws?batch=1``."""
        self.feed = feed
        self.drive = drive
        self.settings: Settings = drive.settings
        self.identity = identity
        self._token = token
        self.queue: asyncio.Queue[list[str]] = asyncio.Queue(self.settings.live_send_queue)
        self._closing = asyncio.Event()
        self.close_code = protocol.CLOSE_GOING_AWAY
        self.close_reason = ""
        rate = self.settings.live_packets_per_second
        self._bucket = TokenBucket(rate, 2 * rate)

    @property
    def user_id(self) -> int:
        return self.identity.actor.id

    # -- called by the registry and the tasks ---------------------------------------------
    def push(self, text: str) -> None:
        """Queue a packet; a full queue disconnects the client (never blocks)."""
        self.push_many([text])

    def push_many(self, texts: list[str]) -> None:
        """Queue packets sent together (one transaction's events take one queue place)."""
        if self._closing.is_set():
            return
        try:
            self.queue.put_nowait(texts)
        except asyncio.QueueFull:
            self.close(protocol.CLOSE_TOO_SLOW, "client too slow: send queue full")

    def close(self, code: int, reason: str) -> None:
        if not self._closing.is_set():
            self.close_code, self.close_reason = code, reason
            self._closing.set()

    # -- lifetime --------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the socket until it closes, for whatever reason; then close it."""
        tasks = [
            asyncio.create_task(self._reader(), name="live-reader"),
            asyncio.create_task(self._sender(), name="live-sender"),
            asyncio.create_task(self._heartbeat(), name="live-heartbeat"),
            asyncio.create_task(self._closing.wait(), name="live-closing"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._send_close()

    async def _send_close(self) -> None:
        with contextlib.suppress(Exception):
            # A stuck client must not hold this coroutine: the close frame gets a second.
            await asyncio.wait_for(
                self.websocket.close(self.close_code, self.close_reason[:120]), timeout=1.0
            )

    async def _sender(self) -> None:
        send = self.websocket.send_text
        queue = self.queue
        while True:
            texts = await queue.get()
            if self.batch and not queue.empty():
                # Entries that queued up while the last frame was written leave as one frame.
                entries = list(texts)
                while not queue.empty():
                    entries += queue.get_nowait()
                texts = [merge_frames(entries)]
            for text in texts:
                await send(text)

    async def _heartbeat(self) -> None:
        every = self.settings.live_heartbeat_seconds
        while True:
            await asyncio.sleep(every)
            try:
                self.identity = await anyio.to_thread.run_sync(
                    authenticate, self.drive, self._token
                )
            except CordvaultError:
                self.close(protocol.CLOSE_UNAUTHORIZED, "credentials no longer valid")
                return
            self.push(protocol.encode("s2c:heartbeat", {"interval": every}))

    async def _reader(self) -> None:
        idle = self.settings.live_idle_timeout_seconds
        while True:
            try:
                message = await asyncio.wait_for(self.websocket.receive(), timeout=idle)
            except TimeoutError:
                self.close(protocol.CLOSE_TIMEOUT, "idle timeout")
                return
            if message["type"] == "websocket.disconnect":
                self.close(int(message.get("code", 1000)), "")
                return
            await self._on_message(message)

    async def _on_message(self, message: Mapping[str, Any]) -> None:
        text = message.get("text")
        limit = self.settings.live_max_packet_bytes
        size = len(text.encode("utf-8")) if text is not None else len(message.get("bytes") or b"")
        if size > limit:
            err = CordvaultError(
                ErrorCode.PACKET_TOO_LARGE,
                f"packets are at most {limit} bytes",
                details={"limit": limit},
            )
            self.push(protocol.error_packet(err, None))
            self.close(protocol.CLOSE_TOO_LARGE, "packet too large")
            return
        if text is None:
            self.push(protocol.error_packet(protocol.invalid("packets are JSON text frames"), None))
            return
        if not self._bucket.take():
            err = CordvaultError(ErrorCode.RATE_LIMITED, "too many packets; slow down")
            self.push(protocol.error_packet(err, protocol.reply_uuid_of(text)))
            return
        try:
            packet = protocol.parse(text)
        except CordvaultError as exc:
            self.push(protocol.error_packet(exc, protocol.reply_uuid_of(text)))
            return
        self.push(await self.answer(packet))

    async def answer(self, packet: protocol.Packet) -> str:
        """The reply to one request packet (an error reply on failure)."""
        if packet.id == "c2s:ping":
            return protocol.encode("s2c:pong", {}, packet.uuid)
        if packet.id == "c2s:insights-subscribe" and self.feed is not None:
            return await self.feed.subscribe(self, packet)
        handler = HANDLERS.get(packet.id)
        if handler is None:
            err = CordvaultError(
                ErrorCode.UNKNOWN_PACKET,
                "unknown packet id" if packet.id != "c2s:auth" else "already authenticated",
                details={"id": packet.id},
            )
            return protocol.error_packet(err, packet.uuid)

        def run() -> Reply:
            with transaction(self.drive) as db:
                return handler(self.drive, db, self.identity.actor, packet.data)

        try:
            reply_id, data = await anyio.to_thread.run_sync(run)
        except CordvaultError as exc:
            return protocol.error_packet(exc, packet.uuid)
        except Exception as exc:
            log.error("live request %s failed: %s", packet.id, type(exc).__name__, exc_info=True)
            err = CordvaultError(ErrorCode.UNKNOWN_ERROR, "internal error")
            return protocol.error_packet(err, packet.uuid)
        return protocol.encode(reply_id, data, packet.uuid)
