"""Fault injection: make chosen requests fail the ways Discord sometimes does.

A :class:`FaultRule` matches ``"METHOD /path"`` (the API path without ``/api/v10``, or
``/cdn/...``) with shell-style wildcards, e.g. ``"POST /channels/*/messages"``, and fires with
``probability`` at most ``times`` times (None: unlimited). Kinds:

- ``"500"``, ``"502"``, ``"503"``: a JSON error answer (the request is not applied);
- ``"429"``: a forced rate limit with ``retry_after`` (``is_global`` for a global one);
- ``"reset"``: the connection is closed before any answer (not applied);
- ``"drop_response"``: the request IS applied, then the connection is closed before the
  answer (the client cannot know it worked: the case nonces exist for);
- ``"slow"``: the answer is delayed by ``delay`` seconds (timeouts).

Rules are checked in order; the first that fires wins. Random draws use ``seed`` when given so
a fraction-based test is reproducible.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["500", "502", "503", "429", "reset", "drop_response", "slow"]


@dataclass
class FaultRule:
    """One injected failure mode (see the module docstring)."""

    pattern: str
    kind: FaultKind
    probability: float = 1.0
    times: int | None = None
    delay: float = 0.0
    retry_after: float = 1.0
    is_global: bool = False


class FaultBook:
    """The active rules; thread-safe, changeable while the emulator runs."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (consumes one of its ``times``)."""
        target = f"{method} {path}"
        with self._lock:
            for rule in self._rules:
                if rule.times is not None and rule.times <= 0:
                    continue
                if not fnmatch.fnmatchcase(target, rule.pattern):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None
