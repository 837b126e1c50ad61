"""Message texts with known sentiment: a seeded pool drawn from the VADER lexicon.

Each pool entry carries its text pre-encoded for messages.json and messages.csv and its
compound score computed by the semantics doc's rule (tokens split on whitespace, lower-cased,
``.,!?;:"()[]{}*_~`` stripped from both ends, valences summed, ``s / sqrt(s*s + 15)``, messages
with ``s == 0`` not scored). Only plain lower-case ASCII lexicon words that appear once in the
lexicon file are used, so lexicon-loading details cannot change the expected values.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import orjson

STRIP = '.,!?;:"()[]{}*_~'
_NEUTRAL = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "it",
    "is",
    "for",
    "on",
    "that",
    "this",
    "with",
    "at",
    "we",
    "you",
    "they",
    "server",
    "tomorrow",
    "build",
    "rust",
    "coffee",
    "patch",
    "meeting",
    "later",
    "today",
    "channel",
    "python",
    "train",
    "window",
    "table",
    "river",
    "number",
    "seven",
    "eleven",
    "blue",
    "green",
    "desk",
    "paper",
    "phone",
    "laptop",
    "music",
    "stream",
    "update",
    "version",
    "ticket",
    "bridge",
    "garden",
    "kitchen",
    "monday",
    "friday",
    "morning",
    "evening",
    "map",
    "route",
    "file",
    "folder",
    "commit",
]
_DECOR = ("{}", "{}!", "{}?", "{},", "{}...", "({})", "*{}*", '"{}"', "{}!!", "_{}_")
_EXTRAS = (
    'He said "fine, whatever"',
    "see you, at 5",
    "line one\nline two",
    'a "quoted" word, and a comma',
    "multi\nline\ncontent, with commas",
    "emoji 🎉 time",
    "ünïcödé ♥ text",
)


def load_lexicon() -> dict[str, float]:
    """The VADER lexicon from the installed ``vaderSentiment`` package (last line wins)."""
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def _safe_words(text_lines: list[str]) -> list[str]:
    """Lexicon words that are plain ASCII lower-case letters and appear exactly once."""
    seen = Counter(line.split("\t", 1)[0] for line in text_lines if line.strip())
    return sorted(
        w for w, n in seen.items() if n == 1 and w.isascii() and w.isalpha() and w.islower()
    )


def compound(text: str, lexicon: dict[str, float]) -> float | None:
    """The doc's per-message compound score, None when the message does not score."""
    s = 0.0
    for token in text.lower().split():
        value = lexicon.get(token.strip(STRIP))
        if value is not None:
            s += value
    if s == 0:
        return None
    return s / math.sqrt(s * s + 15)


@dataclass(frozen=True)
class Content:
    """One message text: JSON string literal, CSV field, and its compound (None: unscored)."""

    text: str
    json: str
    csv: str
    compound: float | None


def _csv_field(text: str) -> str:
    # The line terminator must contain \r\n: QUOTE_MINIMAL quotes fields holding its characters.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([text])
    return buffer.getvalue().removesuffix("\r\n")


class ContentPool:
    """A fixed, seeded list of message texts; messages pick entries by index."""

    def __init__(self, rng: random.Random, size: int = 2048) -> None:
        text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
        lines = text.splitlines()
        self.lexicon = load_lexicon()
        words = _safe_words(lines)
        neutral = [w for w in _NEUTRAL if w not in self.lexicon]
        self.entries: list[Content] = [self._make(rng, words, neutral) for _ in range(size)]
        self.entries[0] = self._content("")  # attachment-only messages have no text

    def _make(self, rng: random.Random, words: list[str], neutral: list[str]) -> Content:
        while True:
            tokens: list[str] = []
            for _ in range(rng.randint(1, 14)):
                word = rng.choice(words) if rng.random() < 0.3 else rng.choice(neutral)
                if rng.random() < 0.15:
                    word = word.upper() if rng.random() < 0.3 else word.capitalize()
                if rng.random() < 0.2:
                    word = rng.choice(_DECOR).format(word)
                tokens.append(word)
            if rng.random() < 0.15:
                tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(_EXTRAS))
            text = " ".join(tokens)
            entry = self._content(text)
            # A valence sum that is zero only up to float rounding depends on summation
            # details; keep texts whose score is clearly zero or clearly not.
            s = 0.0
            for token in text.lower().split():
                s += self.lexicon.get(token.strip(STRIP), 0.0)
            if s == 0 or abs(s) > 1e-6:
                return entry

    def _content(self, text: str) -> Content:
        return Content(
            text=text,
            json=orjson.dumps(text).decode(),
            csv=_csv_field(text),
            compound=compound(text, self.lexicon),
        )
