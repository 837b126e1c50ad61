"""Server-side rate limits, shaped like Discord's.

Each (token, route, major parameter) has a fixed window opened by its first request: ``limit``
requests per ``per`` seconds. Every answer carries ``X-RateLimit-Limit/Remaining/Reset/
Reset-After/Bucket`` (``Reset`` is the window end as Unix time with milliseconds, constant for
the window; ``Reset-After`` is rounded *up* to the millisecond, as a client may rely on it).
A request over the limit gets 429 ``{message, retry_after, global: false}`` with
``Retry-After`` and ``X-RateLimit-Scope: user``. The per-token global limit (50/s) is checked
first; exceeding it answers ``global: true`` with ``X-RateLimit-Global`` and scope ``global``
and no bucket headers.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RouteLimit:
    """``limit`` requests per ``per`` seconds."""

    limit: int
    per: float


@dataclass
class _Window:
    started: float  # monotonic
    ends: float  # monotonic
    reset_epoch: float
    count: int = 0


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer: allowed or not, and the headers to send either way."""

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    is_global: bool = False


def _ceil_ms(seconds: float) -> float:
    return math.ceil(max(0.0, seconds) * 1000) / 1000


def bucket_hash(label: str) -> str:
    """An opaque, stable bucket id per route (Discord's are opaque too)."""
    return hashlib.sha256(label.encode()).hexdigest()[:16]


class ServerLimiter:
    """Fixed windows per bucket and per token; thread-safe."""

    def __init__(
        self,
        route_limits: dict[str, RouteLimit],
        default: RouteLimit,
        global_limit: int,
        global_period: float,
    ) -> None:
        self.route_limits = route_limits
        self.default = default
        self.global_limit = global_limit
        self.global_period = global_period
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._global: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def check(self, who: str, label: str, major: str, *, use_global: bool) -> Verdict:
        """Count one request by ``who`` (a token digest) on ``label``/``major``."""
        with self._lock:
            now = time.monotonic()
            if use_global:
                window = self._global.get(who)
                if window is None or now >= window.ends:
                    window = self._global[who] = self._open(now, self.global_period)
                if window.count >= self.global_limit:
                    retry = _ceil_ms(window.ends - now)
                    headers = {
                        "Retry-After": str(math.ceil(retry)),
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                    }
                    return Verdict(False, headers, retry, is_global=True)
                window.count += 1
            rule = self.route_limits.get(label, self.default)
            key = (who, label, major)
            window = self._windows.get(key)
            if window is None or now >= window.ends:
                window = self._windows[key] = self._open(now, rule.per)
            reset_after = _ceil_ms(window.ends - now)
            headers = {
                "X-RateLimit-Limit": str(rule.limit),
                "X-RateLimit-Reset": f"{window.reset_epoch:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket_hash(label),
            }
            if window.count >= rule.limit:
                headers["X-RateLimit-Remaining"] = "0"
                headers["Retry-After"] = str(math.ceil(reset_after))
                headers["X-RateLimit-Scope"] = "user"
                return Verdict(False, headers, reset_after)
            window.count += 1
            headers["X-RateLimit-Remaining"] = str(rule.limit - window.count)
            return Verdict(True, headers)

    @staticmethod
    def _open(now: float, per: float) -> _Window:
        return _Window(started=now, ends=now + per, reset_epoch=time.time() + per)
