"""The rate-limit pacer: wait *before* Discord would answer 429.

One :class:`RateLimiter` per bot token (share it between clients that use the same token). It
keeps, under one lock:

- **buckets**, one per route + major parameter (channel, guild, webhook), learned from the
  ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` headers. Until a bucket's limit is
  known only one request at a time is let through (the probe), so a burst cannot overshoot an
  unknown limit. Each window's end is taken as ``arrival + Reset-After + margin``: never earlier
  than Discord's, because the answer left Discord before it arrived here. When a newer window is
  seen, the remaining count is reduced by the requests still in flight (they may land in it);
  that makes every estimate err on the slow side, never on the 429 side.
- the **global** limit (default 50 requests per second per token) as ``global_limit`` slots.
  A request holds its slot from its send until ``period + global_margin`` after its answer
  came back. Discord received it somewhere in between, so any ``global_limit + 1`` requests
  arrive at Discord more than a period apart whatever the latency jitter (a log of send times
  alone would not guarantee that: a slow first request shifts Discord's window late). Plus a
  hard block after a global 429.
- the **invalid-request breaker**: 401, 403 and 429 answers (except ``scope: shared`` 429s,
  which Discord does not count) in the last ``invalid_window`` seconds. Discord bans an IP for
  hours at 10,000 per 10 minutes; at ``invalid_threshold`` (default 1,000) :meth:`acquire`
  raises :class:`DiscordRequestsHalted` instead of sending anything.

429 answers are honoured: ``retry_after`` blocks the bucket (or, when ``global`` is set,
everything). Waiting longer than ``max_wait`` raises :class:`DiscordRateLimited` so callers can
decide; a caller must pair every :meth:`acquire` with one :meth:`release`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cordvault.discord.errors import DiscordRateLimited, DiscordRequestsHalted
from cordvault.discord.routes import Route

_PROBE_POLL = 0.25  # re-check interval while waiting for an in-flight probe's answer


@dataclass
class _Bucket:
    limit: int | None = None  # None: not learned yet (one probe at a time)
    remaining: int = 1
    window: float = 0.0  # X-RateLimit-Reset of the newest window seen (identifies it)
    reset_at: float | None = None  # our clock: when that window is surely over
    inflight: int = 0
    unlimited: bool = False  # Discord sent no rate-limit headers for this route


@dataclass(frozen=True)
class Ticket:
    """Proof of one :meth:`RateLimiter.acquire`; hand it back to :meth:`RateLimiter.release`."""

    key: tuple[str, str]
    label: str
    holds_global: bool = True


@dataclass(frozen=True)
class RateLimitAnswer:
    """What a 429 said: seconds to wait, whether it was global, and its scope."""

    retry_after: float
    is_global: bool
    scope: str | None


def _float(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def parse_429(headers: Mapping[str, str], payload: Any) -> RateLimitAnswer:
    """Read ``retry_after``/``global`` from a 429 body, falling back to the headers."""
    body = payload if isinstance(payload, dict) else {}
    retry_after = _float(str(body["retry_after"])) if "retry_after" in body else None
    if retry_after is None:
        retry_after = _float(headers.get("retry-after"))
    scope = headers.get("x-ratelimit-scope")
    is_global = (
        bool(body.get("global"))
        or headers.get("x-ratelimit-global", "").lower() == "true"
        or scope == "global"
    )
    return RateLimitAnswer(
        max(0.0, retry_after if retry_after is not None else 1.0), is_global, scope
    )


class RateLimiter:
    """Paces one bot token's requests. Thread-safe; see the module docstring for the model."""

    def __init__(
        self,
        *,
        global_limit: int = 50,
        global_period: float = 1.0,
        global_margin: float = 0.02,
        margin: float = 0.05,
        invalid_threshold: int = 1000,
        invalid_window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if global_limit < 1 or invalid_threshold < 1:
            raise ValueError("limits must be positive")
        self.global_limit = global_limit
        self.global_hold = global_period + global_margin
        self.margin = margin
        self.invalid_threshold = invalid_threshold
        self.invalid_window = invalid_window
        self._clock = clock
        self._cond = threading.Condition()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._route_hash: dict[str, str] = {}  # route label -> Discord's bucket hash
        self._alias: dict[tuple[str, str], tuple[str, str]] = {}
        self._global_inflight = 0
        self._global_frees: deque[float] = deque()  # when released slots become free, ascending
        self._global_blocked_until = 0.0
        self._invalid: deque[float] = deque()
        self.waited_seconds = 0.0

    # -- public ------------------------------------------------------------------------------

    def acquire(self, route: Route, *, max_wait: float = 60.0, use_global: bool = True) -> Ticket:
        """Block until ``route`` may be sent now, then reserve the slot.

        Raises :class:`DiscordRequestsHalted` while the breaker is open and
        :class:`DiscordRateLimited` when the wait would exceed ``max_wait`` seconds.
        """
        with self._cond:
            key = self._key(route)
            while True:
                now = self._clock()
                self._check_breaker(now)
                bucket = self._bucket(key)
                bucket_wait = self._bucket_wait(bucket, now)
                global_wait = self._global_wait(now) if use_global else 0.0
                if bucket_wait == 0.0 and global_wait == 0.0:
                    bucket.inflight += 1
                    if bucket.limit is not None and not bucket.unlimited:
                        bucket.remaining -= 1
                    if use_global:
                        self._global_inflight += 1
                    return Ticket(key=key, label=route.label, holds_global=use_global)
                known = max(bucket_wait or 0.0, global_wait or 0.0)
                if known > max_wait:
                    is_global = (global_wait or 0.0) >= (bucket_wait or 0.0)
                    raise DiscordRateLimited(
                        known, f"rate limited on {route.label}", is_global=is_global
                    )
                # None: only an answer (notify) can unblock; poll in case it never comes.
                waiting_for_answer = bucket_wait is None or global_wait is None
                timeout = max(known, _PROBE_POLL) if waiting_for_answer else known
                self._cond.wait(timeout)
                self.waited_seconds += self._clock() - now

    def release(
        self, ticket: Ticket, status: int | None, headers: Mapping[str, str] | None, payload: Any
    ) -> None:
        """Learn from an answer (``status`` None: no answer arrived) and free the slot."""
        with self._cond:
            now = self._clock()
            bucket = self._bucket(ticket.key)
            bucket.inflight = max(0, bucket.inflight - 1)
            if ticket.holds_global:
                self._global_inflight -= 1
                self._global_frees.append(now + self.global_hold)
            hdrs: Mapping[str, str] = headers if headers is not None else {}
            answer = parse_429(hdrs, payload) if status == 429 else None
            if status in (401, 403) or (answer is not None and answer.scope != "shared"):
                self._invalid.append(now)
            if status is not None:
                bucket = self._learn(ticket, bucket, status, hdrs, now)
            if answer is not None:
                until = now + answer.retry_after + self.margin
                if answer.is_global:
                    self._global_blocked_until = max(self._global_blocked_until, until)
                else:
                    bucket.remaining = 0
                    bucket.reset_at = max(bucket.reset_at or now, until)
            self._cond.notify_all()

    def wait_estimate(self, route: Route, *, use_global: bool = True) -> float | None:
        """Seconds :meth:`acquire` would wait for ``route`` now (0.0: none; None: until an
        answer in flight arrives). Reserves nothing: a hint for callers that can use the time
        (e.g. the Discord store packs more chunks into a message instead of blocking)."""
        with self._cond:
            now = self._clock()
            bucket_wait = self._bucket_wait(self._bucket(self._key(route)), now)
            global_wait = self._global_wait(now) if use_global else 0.0
            if bucket_wait is None or global_wait is None:
                return None
            return max(bucket_wait, global_wait)

    def invalid_count(self) -> int:
        """Invalid answers (401/403/429) counted in the current window."""
        with self._cond:
            self._prune_invalid(self._clock())
            return len(self._invalid)

    # -- internals (called with the lock held) -------------------------------------------------

    def _key(self, route: Route) -> tuple[str, str]:
        label, major = route.bucket_key
        bucket_hash = self._route_hash.get(label)
        if bucket_hash is None:
            return self._alias.get((label, major), (label, major))
        return self._migrate((label, major), (bucket_hash, major))

    def _migrate(self, old: tuple[str, str], new: tuple[str, str]) -> tuple[str, str]:
        """Move state kept under a provisional key to Discord's bucket; returns ``new``.

        Requests may be in flight under ``old`` (a probe sent before the hash was known): they
        are merged in as in flight and as spent, so the merged bucket stays conservative.
        """
        if old != new:
            moved = self._buckets.pop(old, None)
            self._alias[old] = new
            if moved is not None:
                target = self._buckets.get(new)
                if target is None:
                    self._buckets[new] = moved
                else:
                    target.inflight += moved.inflight
                    target.remaining -= moved.inflight
        return new

    def _bucket(self, key: tuple[str, str]) -> _Bucket:
        key = self._alias.get(key, key)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        return bucket

    def _check_breaker(self, now: float) -> None:
        self._prune_invalid(now)
        count = len(self._invalid)
        if count >= self.invalid_threshold:
            # The count drops below the threshold once the oldest surplus answer ages out.
            oldest = self._invalid[count - self.invalid_threshold]
            raise DiscordRequestsHalted(
                oldest + self.invalid_window - now, count, self.invalid_threshold
            )

    def _prune_invalid(self, now: float) -> None:
        while self._invalid and self._invalid[0] <= now - self.invalid_window:
            self._invalid.popleft()

    def _bucket_wait(self, bucket: _Bucket, now: float) -> float | None:
        """0: go; > 0: wait that long; None: wait for an in-flight answer."""
        if bucket.reset_at is not None and now >= bucket.reset_at:
            # Our window end is never earlier than Discord's: the bucket has refilled, minus
            # what is still in flight (those may be counted in the new window).
            bucket.reset_at = None
            bucket.remaining = (bucket.limit or 1) - bucket.inflight
        if bucket.unlimited and bucket.reset_at is None:
            return 0.0
        if bucket.remaining <= 0 and bucket.reset_at is not None:
            return bucket.reset_at - now
        if bucket.limit is None:
            return 0.0 if bucket.inflight == 0 else None
        if bucket.remaining > 0:
            return 0.0
        return None

    def _global_wait(self, now: float) -> float | None:
        """0: a slot is free; > 0: one frees then; None: all are in flight (wait for one)."""
        if now < self._global_blocked_until:
            return self._global_blocked_until - now
        while self._global_frees and self._global_frees[0] <= now:
            self._global_frees.popleft()
        if self._global_inflight + len(self._global_frees) < self.global_limit:
            return 0.0
        if self._global_frees:
            return self._global_frees[0] - now
        return None

    def _learn(
        self, ticket: Ticket, bucket: _Bucket, status: int, headers: Mapping[str, str], now: float
    ) -> _Bucket:
        bucket_hash = headers.get("x-ratelimit-bucket")
        if bucket_hash:
            bucket = self._adopt_hash(ticket, bucket_hash)
        limit = _float(headers.get("x-ratelimit-limit"))
        remaining = _float(headers.get("x-ratelimit-remaining"))
        reset_after = _float(headers.get("x-ratelimit-reset-after"))
        if limit is None or remaining is None or reset_after is None:
            if bucket.limit is None and status < 400:
                bucket.unlimited = True  # this route carries no per-route limit
            return bucket
        bucket.limit = int(limit)
        bucket.unlimited = False
        window = _float(headers.get("x-ratelimit-reset")) or (time.time() + reset_after)
        deadline = now + reset_after + self.margin
        if window > bucket.window + 1e-6:
            # A newer window: trust Discord's count minus what is still on its way there.
            bucket.window = window
            bucket.remaining = max(0, int(remaining) - bucket.inflight)
            bucket.reset_at = deadline
        elif window > bucket.window - 1e-6:
            bucket.remaining = min(bucket.remaining, int(remaining))
            bucket.reset_at = max(bucket.reset_at or deadline, deadline)
        # else: an answer from an older window arrived late; nothing to learn.
        return bucket

    def _adopt_hash(self, ticket: Ticket, bucket_hash: str) -> _Bucket:
        """Routes Discord puts in one bucket share one state from now on."""
        self._route_hash[ticket.label] = bucket_hash
        major = ticket.key[1]
        key = self._migrate(self._alias.get(ticket.key, ticket.key), (bucket_hash, major))
        return self._bucket(key)
