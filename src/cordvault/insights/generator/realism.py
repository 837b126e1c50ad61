"""The ``realistic`` generation profile: how real Discord activity departs from uniform.

Measured output sizes depend on how many distinct (channel, hour) and (day, key) buckets a
package fills, so the profile shapes exactly that, and nothing the semantics tests rely on:

- **channels**: a few hundred beside the plan's hand-shaped ones (``extra_channels``), with
  Zipf-like shares (``zipf_weight``): a handful of busy servers' channels and DMs hold most
  messages, hundreds hold a few.
- **conversations**: inside a channel, messages come in conversations (``MessageGaps``): most
  gaps are a few tens of seconds, and one in ``1 / (1 - P_REPLY)`` is a pause long enough to
  keep the channel's overall rate, so a busy hour holds many messages.
- **diurnal hours**: a pause ends at an hour drawn with the ``DIURNAL`` weights (evenings busy,
  early mornings quiet), not uniformly.
- **event mix** (``realistic_event``): counted events in proportions seen in real exports
  (``app_opened`` and notifications daily, reactions in a user's active channels, a few
  server joins and slash commands, rare crashes/captchas), the rest irrelevant event types.
"""

from __future__ import annotations

import math
import random
from itertools import accumulate

P_REPLY = 0.88  # chance that the next (older) message belongs to the same conversation
REPLY_GAP_S = 45.0  # mean gap between messages of a conversation
# Relative activity by UTC hour (a European evening peak, a quiet night).
DIURNAL = (
    5, 3, 2, 1, 1, 1, 2, 3, 5, 6, 7, 8, 9, 9, 9, 10, 11, 13, 15, 17, 18, 17, 13, 8,
)  # fmt: skip
_DIURNAL_MAX = max(DIURNAL)
_HOUR_CUMULATIVE = tuple(accumulate(DIURNAL))


def extra_channels(messages: int) -> int:
    """How many channels beside the plan's own: ~1 per 5,000 messages, 40 to 600."""
    return max(40, min(600, messages // 5000))


def zipf_weight(rank: int) -> int:
    """The message share weight of the extra channel of this rank (0 = busiest)."""
    return max(1, round(400 / math.pow(rank + 1, 1.1)))


def diurnal_hour(rng: random.Random) -> int:
    """A UTC hour drawn with the ``DIURNAL`` weights."""
    x = rng.random() * _HOUR_CUMULATIVE[-1]
    for hour, edge in enumerate(_HOUR_CUMULATIVE):
        if x < edge:
            return hour
    return 23


def at_diurnal_hour(rng: random.Random, t: int) -> int:
    """``t`` moved back (by less than a day) to a time whose hour follows ``DIURNAL``."""
    hour = diurnal_hour(rng)
    day_start = t - t % 86_400
    moved = day_start + hour * 3600 + int(rng.random() * 3600)
    return moved if moved <= t else moved - 86_400


class MessageGaps:
    """Gaps between consecutive messages (walking back in time) of one channel.

    ``span``/``n`` is the channel's mean gap; conversations keep that mean: the reply gap is
    at most half of it, and pauses make up the rest.
    """

    def __init__(self, rng: random.Random, span: int, n: int) -> None:
        self.rng = rng
        mean = span / max(n, 1)
        self.reply = min(REPLY_GAP_S, mean / 2)
        self.pause = max((mean - P_REPLY * self.reply) / (1 - P_REPLY), self.reply)

    def back(self, t: int) -> int:
        """The time of the message before the one at ``t``."""
        rng = self.rng
        if rng.random() < P_REPLY:
            return t - int(rng.expovariate(1 / self.reply)) if self.reply > 0 else t
        # A pause: skip back, then land at an hour people write at (the pause's mean shrinks
        # by the half day that landing moves back on average).
        skip = int(rng.expovariate(1 / max(self.pause - 43_200, self.reply)))
        return at_diurnal_hour(rng, t - skip)


# (share, kind) of analytics lines in a real export: counted kinds are a minority.
EVENT_MIX: tuple[tuple[float, str], ...] = (
    (0.060, "app_opened"),
    (0.050, "reaction"),
    (0.040, "plain"),
    (0.006, "command"),
    (0.0004, "guild_joined"),
    (0.010, "unnamed"),
)
_MIX_EDGES = tuple(accumulate(share for share, _ in EVENT_MIX))
# Within "plain": notifications and edits dominate; crashes, captchas, reports are rare.
PLAIN_MIX: tuple[tuple[float, str], ...] = (
    (0.40, "notification_clicked"),
    (0.30, "message_edited"),
    (0.08, "email_opened"),
    (0.06, "login_successful"),
    (0.05, "premium_upsell_viewed"),
    (0.03, "voice_message_recorded"),
    (0.02, "app_crashed"),
    (0.02, "app_native_crash"),
    (0.015, "remote_auth_login"),
    (0.01, "oauth2_authorize_accepted"),
    (0.01, "captcha_served"),
    (0.005, "user_avatar_updated"),
    (0.005, "message_reported"),
)
_PLAIN_EDGES = tuple(accumulate(share for share, _ in PLAIN_MIX))


def realistic_event(rng: random.Random) -> str:
    """The kind of the next filler line: a key of ``EVENT_MIX`` or ``irrelevant``."""
    x = rng.random()
    for edge, (_share, kind) in zip(_MIX_EDGES, EVENT_MIX, strict=True):
        if x < edge:
            return kind
    return "irrelevant"


def realistic_plain(rng: random.Random) -> str:
    """A plain per-day event name drawn with ``PLAIN_MIX``."""
    x = rng.random() * _PLAIN_EDGES[-1]
    for edge, (_share, name) in zip(_PLAIN_EDGES, PLAIN_MIX, strict=True):
        if x < edge:
            return name
    return PLAIN_MIX[-1][1]
