"""When to retry a Discord request, and how long to back off.

Retried (up to ``max_retries`` times, full-jitter exponential backoff, ``Retry-After`` honoured
when Discord sends one):

- every request on 429 (Discord did not apply it; the pacer waits out ``retry_after``) and on
  transport failures that happened before the request left (connect errors, pool timeouts);
- **idempotent** requests (GET, DELETE, bulk delete) also on 5xx, timeouts and resets;
- ``create_message`` too, because it sends a ``nonce`` with ``enforce_nonce: true``: Discord
  answers a repeat of the same nonce (same author, within a few minutes) with the message the
  first attempt created instead of creating another, so a retry cannot duplicate it. If the
  retries run out after an attempt that may have been applied, the client raises
  :class:`~cordvault.discord.errors.DiscordOutcomeUnknown`; calling ``create_message`` again
  with the same ``nonce`` (within a few minutes) resolves it without a duplicate.

Not retried: ``execute_webhook`` once the request may have reached Discord (read timeout,
connection dropped after sending, 5xx). Webhooks take no nonce, so the client raises
:class:`~cordvault.discord.errors.DiscordOutcomeUnknown`. The caller then either re-uploads
(a possible duplicate is an orphan message holding ciphertext nobody references; the drive's
garbage collector finds orphans by listing the channel) or lists recent messages with
``get_messages(after=<snowflake from before the call>)`` to find the one it sent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

# Failures where the request surely never reached Discord: safe to retry anything.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after the request may have been sent (or partly sent): only idempotent retries.
# (TransportError covers timeouts, resets, protocol errors; check NOT_SENT first.)
MAYBE_SENT = (httpx.TransportError,)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 524})


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: ``uniform(0, min(cap, base * 2**attempt))``."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        ceiling = min(self.cap, self.base * (2**attempt))
        jittered = random.uniform(0.0, ceiling)
        if retry_after is not None:
            return max(jittered, min(retry_after, self.cap))
        return jittered


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    """A numeric ``Retry-After`` (seconds), if the answer carried one."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
