"""This process's live sockets, and the delivery of bus events to exactly their audience.

The registry subscribes to the composition root's event bus (``Services.events``). A message
may arrive on any thread (the committing thread with the in-process bus, the event loop with
Redis); it is handed to the event loop, decoded once, encoded once as ``s2c:<topic>`` and
pushed to each socket whose user is in the event's audience (never to anyone else: the
audience was computed from the drive's access rules when the change was recorded).

Fan-out cost is what limits a process with many sockets, so the per-socket work is one
``put_nowait`` per flush: events arriving within ``LIVE_FLUSH_SECONDS`` are pushed together,
as one send-queue entry built once per audience (the list of packets, or for ``?batch=1``
sockets one JSON-array frame joined once) and shared by every socket of that audience.
``account-revoked`` closes the user's sockets authenticated before the change (4401);
``sessions-revoked`` closes those authenticated with one of the revoked sessions (4401).
``insights-job`` (job news, no user audience) goes to the :class:`~.insights.InsightsFeed`,
which tells the sockets following that package.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from cordvault.drive.events import ACCOUNT_REVOKED, SESSIONS_REVOKED, decode_batch
from cordvault.insights.jobs.context import JOB_STEP
from cordvault.web.live import protocol
from cordvault.web.live.connection import Connection
from cordvault.web.live.insights import InsightsFeed

log = logging.getLogger(__name__)


def _frame(texts: list[str]) -> list[str]:
    """The one frame a ``?batch=1`` socket gets for ``texts``: the packet itself, or a JSON
    array of the packets (joined as text: nothing is encoded again)."""
    if len(texts) == 1:
        return texts
    return ["[" + ",".join(texts) + "]"]


class Registry:
    def __init__(self, feed: InsightsFeed | None = None, flush_seconds: float = 0.0) -> None:
        self.feed = feed
        self.flush_seconds = flush_seconds
        self._pending: list[tuple[str, frozenset[int] | None]] = []
        self._scheduled = False
        self._last_shared: list[str] | None = None
        self._by_user: dict[int, set[Connection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0
        """Packets pushed so far (the benchmark reads it)."""

    @property
    def connections(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def sockets(self) -> list[Connection]:
        """This process's connections now (a copy; tests and the benchmark inspect them)."""
        return [c for conns in self._by_user.values() for c in conns]

    def add(self, conn: Connection) -> None:
        self._loop = asyncio.get_running_loop()
        self._by_user.setdefault(conn.user_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        if self.feed is not None:
            self.feed.drop(conn)
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def close_all(self, code: int, reason: str) -> None:
        for conns in list(self._by_user.values()):
            for conn in list(conns):
                conn.close(code, reason)

    # -- bus subscriber (any thread) -------------------------------------------------------
    def on_message(self, message: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not self._by_user:
            return
        if threading.get_ident() == getattr(loop, "_thread_id", None):
            self._dispatch(message)
        else:
            loop.call_soon_threadsafe(self._dispatch, message)

    def _dispatch(self, message: str) -> None:
        try:
            batch = decode_batch(message)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed bus message")
            return
        for event in batch:
            if event.topic == ACCOUNT_REVOKED:
                self._revoke(int(event.data["user_id"]), int(event.data["token_version"]))
                continue
            if event.topic == SESSIONS_REVOKED:
                ids = {str(i) for i in event.data["session_ids"]}
                self._revoke_sessions(int(event.data["user_id"]), ids)
                continue
            if event.topic == JOB_STEP:
                if self.feed is not None:
                    self.feed.on_job()
                continue
            users = None if event.audience.everyone else frozenset(event.audience.users)
            if users is not None and not any(u in self._by_user for u in users):
                continue
            # Encoded once per event, whatever the number of sockets it reaches.
            self._pending.append((protocol.encode(f"s2c:{event.topic}", event.data), users))
        if self._pending and not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            if self.flush_seconds > 0:
                loop.call_later(self.flush_seconds, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Push what arrived since the last flush: one send-queue entry per socket, built once
        per audience (everyone, or one user with events of their own), in arrival order."""
        pending, self._pending = self._pending, []
        self._scheduled = False
        shared = [text for text, users in pending if users is None]
        own_users = {u for _, users in pending if users is not None for u in users}
        for user_id, conns in self._by_user.items():
            if user_id in own_users:
                texts = [t for t, users in pending if users is None or user_id in users]
                frame = _frame(texts)
            else:
                texts = shared
                if not texts:
                    continue
                frame = self._shared_frame(texts)
            for conn in conns:
                conn.push_many(frame if conn.batch else texts)
            self.delivered += len(texts) * len(conns)
        self._last_shared = None

    def _shared_frame(self, texts: list[str]) -> list[str]:
        if self._last_shared is None:
            self._last_shared = _frame(texts)
        return self._last_shared

    def _revoke(self, user_id: int, version: int) -> None:
        for conn in list(self._by_user.get(user_id, ())):
            if conn.identity.token_version < version:
                conn.close(protocol.CLOSE_UNAUTHORIZED, "credentials revoked")

    def _revoke_sessions(self, user_id: int, session_ids: set[str]) -> None:
        for conn in list(self._by_user.get(user_id, ())):
            if conn.identity.actor.session_id in session_ids:
                conn.close(protocol.CLOSE_UNAUTHORIZED, "session revoked")
