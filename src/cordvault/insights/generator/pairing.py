"""Voice and app sessions from join/leave and start/end events: a plain reading of the doc.

This is the generator's own, independent implementation of the ``voice_sessions`` and
``sessions`` rules of ``docs/insights-semantics.md``; the expected tables come from it.
"""

from __future__ import annotations

from collections import defaultdict

from cordvault.insights.generator.scenarios import TimedEvent

DAY = 86_400


def voice_sessions(events: list[TimedEvent]) -> list[tuple[str, str | None, int, int, int]]:
    """``(channel_id, guild_id, duration_mins, start, end)`` rows, sorted."""
    joins: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    leaves: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.channel_id is None:
            continue
        if e.event_type == "join_voice_channel":
            joins[e.channel_id].append((e.time, e.guild_id))
        elif e.event_type == "leave_voice_channel":
            leaves[e.channel_id].append(e.time)
    rows: list[tuple[str, str | None, int, int, int]] = []
    for channel_id in sorted(joins):
        js = sorted(joins[channel_id], key=lambda j: j[0])
        ls = sorted(leaves.get(channel_id, []))
        li = 0
        last_end: int | None = None
        last_start = 0
        for t, guild_id in js:
            while li < len(ls) and ls[li] < t:
                li += 1
            if li == len(ls):
                break  # no leave at or after this join, nor after any later one
            end = ls[li]
            if end - t > DAY:
                continue
            if last_end is not None and last_start <= t <= last_end:
                continue
            rows.append((channel_id, guild_id, (end - t) // 60, t, end))
            last_start, last_end = t, end
    return rows


def app_sessions(events: list[TimedEvent]) -> list[tuple[int, int, int, str]]:
    """``(start, end, duration_mins, os)`` rows in time order."""
    usable = [e for e in events if e.os]
    usable.sort(key=lambda e: (e.ts, 0 if e.event_type == "session_start" else 1))
    pending: list[TimedEvent] = []
    rows: list[tuple[int, int, int, str]] = []
    for e in usable:
        if e.event_type == "session_start":
            pending.append(e)
            continue
        fresh = [s for s in pending if e.ts - s.ts <= DAY]
        if fresh:
            s = fresh[0]
            assert s.os is not None
            rows.append((s.ts, e.ts, (e.ts - s.ts) // 60, s.os))
        pending.clear()
    return rows
