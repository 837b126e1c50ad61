"""The event bus: fan-out of small text messages to every subscriber of every API process.

Two implementations behind one interface (:class:`EventBus`), picked by :func:`open_bus`:

- :class:`LocalBus` (the embedded default): :meth:`~LocalBus.publish` calls every subscriber
  of this process at once, in the publishing thread.
- :class:`RedisBus` (when ``BROKER_URL`` is a ``redis://``/``rediss://``/``unix://`` URL):
  :meth:`~RedisBus.publish` sends the message to a Redis pub/sub channel; a listener task
  (run inside :meth:`EventBus.running`, i.e. by the composition root's ``Services.running``)
  receives every message published by any process, this one included, and calls the
  subscribers. So two ``cordvault serve`` processes behind one address deliver the same events
  to their clients. Pub/sub rather than streams: events are live news, a client that was
  disconnected re-lists what it shows (nothing is replayed), so at-most-once is the contract.
  A process that publishes without running (the CLI) still reaches the servers.

Contracts: ``publish`` is thread-safe and never blocks for long (a Redis round trip); a
delivery failure is logged, never raised into the change that caused it (that change is
committed already). Subscribers are called from the publishing thread (local) or the event
loop (Redis) and must be quick and thread-safe: the live adapter only hands the message to its
event loop. Messages carry no secrets (ids and metadata only); they reach Redis in clear like
Celery's task ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHANNEL = "cordvault:events"
"""Prefix of the Redis pub/sub channel. Pub/sub ignores Redis database numbers, so the channel
carries a scope (:func:`open_bus`): deployments sharing a Redis never hear each other."""

Subscriber = Callable[[str], None]

Notify = Callable[[str, dict[str, Any]], None]
"""A neutral publish hook ``notify(topic, data)`` for layers that may not know the bus's message
format (insights: it must not import drive). The composition root hands one out that publishes
on its bus; its contract is ``publish``'s (thread-safe, quick, never raises, no secrets in
``data``)."""


def no_notify(topic: str, data: dict[str, Any]) -> None:
    """The hook of a process without a bus (nothing listens)."""


class EventBus(Protocol):
    name: str

    def publish(self, message: str) -> None:
        """Deliver ``message`` to every subscriber (of every process, for Redis)."""

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every message from now on; returns the unsubscribe."""

    def running(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Receive messages from other processes while the block runs (no-op when local)."""

    def close(self) -> None:
        """Release connections (idempotent)."""


class _Subscribers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: tuple[Subscriber, ...] = ()

    def add(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def remove() -> None:
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)

        return remove

    def deliver(self, message: str) -> None:
        for callback in self._callbacks:  # a snapshot: subscribing never blocks delivery
            try:
                callback(message)
            except Exception:
                log.error("an event subscriber failed", exc_info=True)


class LocalBus:
    """In-process fan-out (see the module docstring)."""

    name = "local"

    def __init__(self) -> None:
        self._subscribers = _Subscribers()

    def publish(self, message: str) -> None:
        self._subscribers.deliver(message)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self._subscribers.add(callback)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield

    def close(self) -> None:
        pass


class RedisBus:
    """Redis pub/sub fan-out across processes (see the module docstring)."""

    name = "redis"

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._subscribers = _Subscribers()
        self._lock = threading.Lock()
        self._client: Any = None
        self.ready = asyncio.Event()
        """Set once the listener is subscribed (tests and the benchmark wait on it)."""

    def _sync_client(self) -> Any:
        import redis

        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url, socket_timeout=5, socket_connect_timeout=5
                )
            return self._client

    def publish(self, message: str) -> None:
        try:
            self._sync_client().publish(self.channel, message)
        except Exception as exc:  # Redis down: the change stands, its news is lost
            log.warning("event not published: %s", type(exc).__name__)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self._subscribers.add(callback)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._listen(), name="cordvault-event-bus")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        delay = 0.1
        while True:
            client = aioredis.Redis.from_url(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.ready.set()
                delay = 0.1
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    raw = msg["data"]
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    self._subscribers.deliver(text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: resubscribe with a capped backoff
                self.ready.clear()
                log.warning("event bus connection lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
                with contextlib.suppress(Exception):
                    await client.aclose()  # type: ignore[attr-defined]

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def is_redis_url(url: str | None) -> bool:
    return bool(url) and str(url).split(":", 1)[0].lower() in ("redis", "rediss", "unix")


def open_bus(broker_url: str | None, scope: str = "") -> EventBus:
    """Redis pub/sub when ``broker_url`` is a Redis URL, else the in-process bus (an AMQP
    broker gives no fan-out to every process: events then stay in their process). ``scope``
    names the deployment (the composition root passes a hash of its database URL: processes
    sharing a database share a channel)."""
    if broker_url and is_redis_url(broker_url):
        return RedisBus(broker_url, f"{CHANNEL}:{scope}" if scope else CHANNEL)
    return LocalBus()
