"""Streams one channel's messages (messages.json or messages.csv) and tallies what it wrote.

Messages are produced newest first (as Discord writes them) by walking time backwards from the
channel's end, so the per-hour tallies come out in runs and are stored run-length encoded in two
arrays per channel: memory stays flat whatever the number of messages.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Literal

from cordvault.insights.generator.clock import SNOWFLAKE_EPOCH_MS, Clock
from cordvault.insights.generator.contents import ContentPool
from cordvault.insights.generator.plan import Channel
from cordvault.insights.generator.realism import MessageGaps

FileFormat = Literal["json", "csv"]
CSV_HEADER = "ID,Timestamp,Contents,Attachments\r\n"
_FLUSH_EVERY = 4096


@dataclass
class ChannelStats:
    """What was written for one channel (malformed rows excluded from every figure)."""

    count: int = 0
    scored: int = 0
    compound_sum: float = 0.0
    hours: array[int] = field(default_factory=lambda: array("q"))  # Unix hour numbers
    hour_counts: array[int] = field(default_factory=lambda: array("q"))
    first_id: int | None = None  # the first message of the file (exactness check)
    min_t: int | None = None
    max_t: int | None = None
    malformed: int = 0


class MessageWriter:
    """Writes channels' message files from a shared content pool."""

    def __init__(self, pool: ContentPool, rng: random.Random, realistic: bool = False) -> None:
        self.pool = pool
        self.rng = rng
        self.realistic = realistic  # conversations at diurnal hours (generator/realism.py)
        self.clock = Clock()
        self._seq = 0

    def write(
        self,
        out: IO[bytes],
        channel: Channel,
        n: int,
        fmt: FileFormat,
        malformed: int = 0,
        tick: Callable[[int], None] | None = None,
    ) -> ChannelStats:
        """Write ``n`` good messages (+ ``malformed`` bad-timestamp rows first) to ``out``."""
        stats = ChannelStats(malformed=malformed)
        rng = self.rng
        rand = rng.random
        entries = self.pool.entries
        pool_mask = len(entries) - 1
        clock = self.clock
        is_json = fmt == "json"
        parts: list[str] = []
        if is_json:
            parts.append("[")
        else:
            parts.append(CSV_HEADER)
        first = True
        for k in range(malformed):
            bad_id = 1 << 60 | k
            content = entries[1 + k]
            if is_json:
                parts.append(
                    f'{"" if first else ","}{{"ID":{bad_id},"Timestamp":"yesterday at noon",'
                    f'"Contents":{content.json},"Attachments":""}}'
                )
            else:
                parts.append(f"{bad_id},2020-13-45 99:99:99,{content.csv},\r\n")
            first = False

        span = max(channel.end - channel.start, 1)
        mean2 = 2.0 * span / max(n, 1)
        t = channel.end
        hours, hour_counts = stats.hours, stats.hour_counts
        cur_hour = -1
        cur_count = 0
        scored = 0
        compound_sum = 0.0
        cid = channel.id
        ticked = 0
        gaps = MessageGaps(rng, span, n) if self.realistic else None
        for i in range(n):
            if i:
                t = gaps.back(t) if gaps is not None else t - int(rand() * mean2)
            ms = int(rand() * 1000)
            self._seq += 1
            mid = ((t * 1000 + ms - SNOWFLAKE_EPOCH_MS) << 22) | (self._seq & 0x3FFFFF)
            content = entries[rng.getrandbits(16) & pool_mask]
            if content.compound is not None:
                scored += 1
                compound_sum += content.compound
            r = rand()
            if r < 0.05:
                att = f"https://cdn.discordapp.com/attachments/{cid}/{mid}/image.png"
            elif r < 0.06:
                att = (
                    f"https://cdn.discordapp.com/attachments/{cid}/{mid}/a.png "
                    f"https://cdn.discordapp.com/attachments/{cid}/{mid + 1}/b.mp4"
                )
            else:
                att = ""
            if is_json:
                parts.append(
                    f'{"" if first else ","}{{"ID":{mid},"Timestamp":"{clock.space(t)}",'
                    f'"Contents":{content.json},"Attachments":"{att}"}}'
                )
            else:
                stamp = clock.csv_stamp(t, ms * 1000 if r < 0.8 else None)
                parts.append(f"{mid},{stamp},{content.csv},{att}\r\n")
            if stats.first_id is None:
                stats.first_id = mid
            first = False
            hour = t // 3600
            if hour != cur_hour:
                if cur_count:
                    hours.append(cur_hour)
                    hour_counts.append(cur_count)
                cur_hour, cur_count = hour, 0
            cur_count += 1
            if len(parts) >= _FLUSH_EVERY:
                out.write("".join(parts).encode())
                parts.clear()
                if tick is not None:
                    tick(i + 1 - ticked)
                    ticked = i + 1
        if cur_count:
            hours.append(cur_hour)
            hour_counts.append(cur_count)
        if is_json:
            parts.append("]")
        out.write("".join(parts).encode())
        if tick is not None:
            tick(n - ticked)
        stats.count = n
        stats.scored = scored
        stats.compound_sum = compound_sum
        if n:
            stats.max_t = channel.end
            stats.min_t = t
        return stats
