"""Fast, cached UTC time formatting for the hot generation loops.

``datetime.strftime`` per message or event line would dominate the run time at millions of
rows; the date part only changes once per day, so it is cached by day number and the time of
day comes from a precomputed table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

SNOWFLAKE_EPOCH_MS = 1_420_070_400_000
_ORDINAL_1970 = date(1970, 1, 1).toordinal()
_HMS: list[str] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
_MS3: list[str] = [f"{m:03d}" for m in range(1000)]


class Clock:
    """Formats Unix seconds; caches one string per day seen (a few thousand at most)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, day_number: int) -> str:
        """``YYYY-MM-DD`` of a day number (Unix seconds // 86400)."""
        text = self._days.get(day_number)
        if text is None:
            text = date.fromordinal(_ORDINAL_1970 + day_number).isoformat()
            self._days[day_number] = text
        return text

    def space(self, t: int) -> str:
        """``YYYY-MM-DD HH:MM:SS`` (the messages.json form)."""
        return f"{self.day(t // 86_400)} {_HMS[t % 86_400]}"

    def iso_ms(self, t: int, ms: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the analytics form, before its extra quoting)."""
        return f"{self.day(t // 86_400)}T{_HMS[t % 86_400]}.{_MS3[ms]}Z"

    def csv_stamp(self, t: int, micros: int | None) -> str:
        """``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`` (the messages.csv form)."""
        frac = "" if micros is None else f".{micros:06d}"
        return f"{self.day(t // 86_400)} {_HMS[t % 86_400]}{frac}+00:00"


def snowflake(t_ms: int, low_bits: int) -> int:
    """A Discord snowflake for a millisecond time; ``low_bits`` fills the 22 low bits."""
    return ((t_ms - SNOWFLAKE_EPOCH_MS) << 22) | (low_bits & 0x3FFFFF)


def utc_date(t: int) -> str:
    """``YYYY-MM-DD`` of Unix seconds (slow path, for one-off values)."""
    return datetime.fromtimestamp(t, UTC).date().isoformat()
