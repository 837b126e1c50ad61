"""Pairing start/end events into voice sessions and app sessions, in O(n log n).

The rules (``docs/insights-semantics.md``) follow the reference's intent and fix its quadratic
scans: a sort, then one linear pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SESSION_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class VoiceSession:
    channel_id: str
    guild_id: str | None
    start: int
    end: int

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


@dataclass(frozen=True)
class AppSession:
    start: int
    end: int
    os: str

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


def pair_voice(events: Iterable[tuple[str, str | None, int, int]]) -> list[VoiceSession]:
    """Voice sessions from ``(channel_id, guild_id, 0 join | 1 leave, unix_s)`` events.

    Per channel: each join (in time order) takes the first leave at or after it; joins with no
    such leave, pairs longer than 24 h, and joins at or inside an accepted session of the same
    channel are dropped.
    """
    joins: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    leaves: dict[str, list[int]] = defaultdict(list)
    for channel, guild, kind, when in events:
        if kind == 0:
            joins[channel].append((when, guild))
        else:
            leaves[channel].append(when)
    sessions: list[VoiceSession] = []
    for channel in sorted(joins):
        channel_leaves = sorted(leaves.get(channel, ()))
        li = 0
        accepted_end: int | None = None
        # Ties between joins at the same second: the guild id breaks them deterministically.
        for when, guild in sorted(joins[channel], key=lambda j: (j[0], j[1] or "")):
            while li < len(channel_leaves) and channel_leaves[li] < when:
                li += 1
            if li == len(channel_leaves):
                break
            end = channel_leaves[li]
            if end - when > MAX_SESSION_SECONDS:
                continue
            # Accepted sessions start in increasing order, so only the latest end matters.
            if accepted_end is not None and when <= accepted_end:
                continue
            sessions.append(VoiceSession(channel, guild, when, end))
            accepted_end = end
    return sessions


def pair_sessions(events: Iterable[tuple[int, int, str]]) -> list[AppSession]:
    """App sessions from ``(unix_s, 0 start | 1 end, os)`` events.

    Sorted by (time, start before end). Each end closes every pending start: those more than
    24 h before it are dropped, the earliest remaining one forms a session with the start's os.
    """
    sessions: list[AppSession] = []
    pending: list[tuple[int, str]] = []
    for when, kind, os_name in sorted(events):
        if kind == 0:
            pending.append((when, os_name))
            continue
        for start, start_os in pending:
            if when - start <= MAX_SESSION_SECONDS:
                sessions.append(AppSession(start, when, start_os))
                break
        pending.clear()
    return sessions
