"""Message sentiment: the VADER lexicon, scored the cheap way.

Full VADER (negation, boosters, capitalisation) costs ~50 us per message; on millions of DM
messages that dominates the run. We keep VADER's lexicon and its compound normalisation, which
carries most of the signal, at ~2 us per message. Exact rule: ``docs/insights-semantics.md``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from itertools import repeat

_STRIP = '.,!?;:"()[]{}*_~'
_ALPHA = 15.0


@lru_cache(maxsize=1)
def lexicon() -> dict[str, float]:
    """Token -> valence, from the ``vaderSentiment`` package's ``vader_lexicon.txt``."""
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    table: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                table[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return table


def message_valence(content: str, table: dict[str, float]) -> float:
    """Sum of the lexicon valences of the message's tokens (added left to right).

    Tokens are the whitespace-separated words, lower-cased, with ``_STRIP`` characters
    stripped from both ends; a token not in the lexicon adds 0.0 (which changes no sum).
    The loops run in C (``map``), which halves the cost of a message.
    """
    tokens = map(str.strip, content.lower().split(), repeat(_STRIP))
    return sum(map(table.get, tokens, repeat(0.0)), 0.0)


def compound(valence: float) -> float:
    """VADER's normalisation of a valence sum into -1..1."""
    return valence / math.sqrt(valence * valence + _ALPHA)


class SentimentAccumulator:
    """Mean compound score over the messages that carry any sentiment."""

    __slots__ = ("count", "table", "total")

    def __init__(self) -> None:
        self.table = lexicon()
        self.total = 0.0
        self.count = 0

    def add_many(self, contents: list[str]) -> None:
        total, count = self.total, self.count
        for valence in map(message_valence, filter(None, contents), repeat(self.table)):
            if valence != 0.0:
                total += compound(valence)
                count += 1
        self.total, self.count = total, count

    def score(self) -> float:
        return round(self.total / self.count, 4) if self.count else 0.0
