"""Discord snowflakes: 64-bit ids whose top 42 bits are milliseconds since 2015-01-01 UTC.

Layout (Discord's): ``timestamp_ms << 22 | worker << 17 | process << 12 | increment``. Ids sort
by creation time, which is what ``before``/``after`` paging and the 14-day bulk-delete rule use.
"""

from __future__ import annotations

import re
import threading

DISCORD_EPOCH_MS = 1_420_070_400_000
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")


def is_snowflake(value: str) -> bool:
    """True when ``value`` is 1-20 decimal digits (what every Discord id looks like)."""
    return bool(_SNOWFLAKE.fullmatch(value))


def snowflake_time(snowflake: str | int) -> float:
    """Creation time (Unix seconds) encoded in a snowflake."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000.0


def snowflake_at(unix_seconds: float, low_bits: int = 0) -> int:
    """The smallest snowflake (plus ``low_bits``) for a moment; useful as a paging bound."""
    return (max(0, int(unix_seconds * 1000) - DISCORD_EPOCH_MS) << 22) | (low_bits & 0x3FFFFF)


class SnowflakeGenerator:
    """Thread-safe, strictly increasing snowflakes for a clock that may jump (tests shift it)."""

    def __init__(self, worker: int = 1, process: int = 0) -> None:
        self._prefix = ((worker & 0x1F) << 17) | ((process & 0x1F) << 12)
        self._last = 0
        self._lock = threading.Lock()

    def next(self, unix_seconds: float) -> str:
        """A new id for ``unix_seconds``; never equal to or below a previous one."""
        with self._lock:
            candidate = snowflake_at(unix_seconds) | self._prefix
            # Same millisecond (or a clock moved backwards): bump the increment bits instead.
            self._last = max(candidate, self._last + 1)
            return str(self._last)
