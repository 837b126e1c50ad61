"""Voice and app-session timelines: the small, hand-shaped part of the analytics events.

Each timeline is a sequence of *blocks* spaced at least three days apart; each block exercises
one pairing rule of the semantics doc (normal pair, overlapping joins/starts, a pair over 24 h,
a leave before any join, a join exactly at the end of a session, "null" or missing
``client_track_timestamp``, events without channel_id / os), and every voice channel ends with
a join that never gets a leave. The expected sessions are derived from these events by
:mod:`cordvault.insights.generator.pairing`, not assumed from the block shapes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

CttMode = Literal["value", "null", "missing"]
VOICE_BLOCKS = (
    "normal",
    "overlap",
    "long",
    "leave-first",
    "at-end",
    "ctt-null",
    "ctt-missing",
    "no-channel",
)
SESSION_BLOCKS = (
    "normal",
    "overlap",
    "stale",
    "stale-then-fresh",
    "end-only",
    "no-os",
    "end-without-os",
    "ctt-null",
)
OSES = ("Windows", "Mac OS X", "Linux", "Android", "iOS")
_GAP = 3 * 86_400


@dataclass(frozen=True)
class TimedEvent:
    """A voice or session line to write. ``ctt`` is the client_track_timestamp second."""

    event_type: str
    ts: int  # `timestamp` second
    ts_ms: int
    ctt: int
    ctt_ms: int
    ctt_mode: CttMode
    channel_id: str | None = None
    guild_id: str | None = None
    os: str | None = None

    @property
    def time(self) -> int:
        """The second the pairing rules use for voice events."""
        return self.ctt if self.ctt_mode == "value" else self.ts


def _blocks(
    rng: random.Random,
    kinds: tuple[str, ...],
    budget: int,
    start: int,
    end: int,
    lines_per_block: int,
) -> list[tuple[str, int]]:
    """Block kinds (every kind at least once) at increasing base times."""
    count = max(len(kinds), budget // lines_per_block)
    count = min(count, max(len(kinds), (end - start) // _GAP - 1))
    step = max((end - start) // (count + 1), _GAP)
    order = [kinds[i % len(kinds)] for i in range(count)]
    rng.shuffle(order)
    return [
        (kind, start + (i + 1) * step + rng.randrange(0, step // 4)) for i, kind in enumerate(order)
    ]


def voice_timeline(
    rng: random.Random, channel_id: str, guild_id: str | None, budget: int, start: int, end: int
) -> list[TimedEvent]:
    """Join/leave events of one voice channel (``guild_id`` None: a DM or group call)."""
    out: list[TimedEvent] = []

    def ev(kind: str, t: int, mode: CttMode = "value", cid: str | None = channel_id) -> None:
        lag = rng.randrange(0, 3)  # the server stamps a little after the client
        out.append(
            TimedEvent(
                f"{kind}_voice_channel",
                t + lag,
                rng.randrange(1000),
                t,
                rng.randrange(1000),
                mode,
                cid,
                guild_id,
            )
        )

    for kind, base in _blocks(rng, VOICE_BLOCKS, budget, start, end - 2 * _GAP, 3):
        d = rng.randrange(60, 4 * 3600)
        if kind == "normal":
            ev("join", base)
            ev("leave", base + d)
        elif kind == "overlap":
            ev("join", base)
            ev("join", base + d // 3)
            ev("leave", base + d)
            ev("leave", base + d + 300)
        elif kind == "long":
            ev("join", base)
            ev("leave", base + 86_400 + d)
        elif kind == "leave-first":
            ev("leave", base)
            ev("join", base + 120)
            ev("leave", base + 120 + d)
        elif kind == "at-end":
            ev("join", base)
            ev("leave", base + d)
            ev("join", base + d)
            ev("leave", base + 2 * d)
        elif kind == "ctt-null":
            ev("join", base, "null")
            ev("leave", base + d, "null")
        elif kind == "ctt-missing":
            ev("join", base, "missing")
            ev("leave", base + d)
        else:  # no-channel: skipped by the rules
            ev("join", base, cid=None)
            ev("leave", base + d, cid=None)
    ev("join", end - _GAP)  # a join that never gets a leave
    return out


def session_timeline(rng: random.Random, budget: int, start: int, end: int) -> list[TimedEvent]:
    """session_start/session_end events (client and server seconds equal: see the report)."""
    out: list[TimedEvent] = []

    def ev(kind: str, t: int, os: str | None, mode: CttMode = "value") -> None:
        out.append(
            TimedEvent(
                f"session_{kind}", t, rng.randrange(1000), t, rng.randrange(1000), mode, os=os
            )
        )

    for kind, base in _blocks(rng, SESSION_BLOCKS, budget, start, end - _GAP, 2):
        os = rng.choice(OSES)
        d = rng.randrange(60, 6 * 3600)
        if kind == "normal":
            ev("start", base, os)
            ev("end", base + d, os)
        elif kind == "overlap":
            ev("start", base, os)
            ev("start", base + d // 2, rng.choice(OSES))
            ev("end", base + d, os)
        elif kind == "stale":
            ev("start", base, os)
            ev("end", base + 86_400 + d, os)
        elif kind == "stale-then-fresh":
            ev("start", base, os)
            ev("start", base + 86_400 + 60, rng.choice(OSES))
            ev("end", base + 86_400 + 60 + d, os)
        elif kind == "end-only":
            ev("end", base, os)
        elif kind == "no-os":
            ev("start", base, None)
            ev("end", base + d, None)
        elif kind == "end-without-os":
            ev("start", base, os)
            ev("end", base + d, None)
        else:
            ev("start", base, os, "null")
            ev("end", base + d, os, "null")
    return out
