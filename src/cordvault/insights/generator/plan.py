"""The content plan of a generated package: owner, relationships, guilds, channels, payments.

The plan is the same for every variant (seeded by the options' seed); variants only change how
it is laid out. Each channel exercises one rule of the semantics doc (DMs with friends and
strangers, "Deleted User", "Unknown Participant", group DMs, threads, voice, left servers,
unknown types 17/18, unicode names, odd index.json values) - see the comments at each entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from cordvault.insights.generator.clock import Clock, snowflake
from cordvault.insights.generator.people import Person
from cordvault.insights.generator.realism import zipf_weight
from cordvault.insights.generator.variants import VariantSpec

Kind = Literal["dm", "group", "guild", "other"]
DELETED_USER = "Deleted User"


@dataclass(frozen=True)
class GuildRef:
    """The ``guild`` object of a channel.json (``name`` None: key absent)."""

    id: str
    name: str | None


@dataclass(frozen=True)
class Guild:
    """A server; ``joined`` ones are listed in Servers/index.json under ``name``."""

    id: str
    name: str
    joined: bool


@dataclass(frozen=True)
class Channel:
    """One channel folder. ``kind`` is the intended classification (checked by a test)."""

    id: str
    type_code: int
    kind: Kind
    name: str | None
    guild: GuildRef | None
    recipients: tuple[str, ...] | None
    index_name: str | None
    weight: int  # relative share of the messages; 0 = an empty channel
    start: int
    end: int


@dataclass(frozen=True)
class Payment:
    """One payment record as written in user.json or payments.json."""

    id: str
    amount: int
    currency: str
    status: int
    created_at: str
    description: str | None


@dataclass(frozen=True)
class Plan:
    """Everything but the bulk rows (messages, events), which are streamed."""

    owner: Person
    relationships: tuple[tuple[Person, int], ...]  # (user, relationship type)
    guilds: tuple[Guild, ...]
    channels: tuple[Channel, ...]
    big_channel: str
    orphan_folder: str  # a channel folder without channel.json (variants with faults)
    payments: tuple[Payment, ...]
    # Voice channels used by join/leave events: (channel id, guild id or None for calls).
    voice_channels: tuple[tuple[str, str | None], ...]


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def make(self, start: int, end: int) -> str:
        t_ms = self.rng.randrange(start, end) * 1000 + self.rng.randrange(1000)
        return str(snowflake(t_ms, self.rng.getrandbits(22)))

    def hexhash(self, animated: bool = False) -> str:
        return ("a_" if animated else "") + f"{self.rng.getrandbits(128):032x}"


def build_plan(seed: int, spec: VariantSpec, extra: int = 0) -> Plan:
    """The deterministic plan for a seed and variant; ``extra`` more channels (the realistic
    profile: guild channels and DMs with Zipf-like shares) come after every other draw, so
    the rest of the plan is the same with or without them."""
    rng = random.Random(f"cordvault-plan:{seed}")
    ids = _Ids(rng)
    user_span = (1_451_606_400, 1_609_459_200)  # accounts created 2016-2020
    legacy = spec.usernames == "legacy"

    def person(
        name: str, new: str, old: str, global_name: str | None, avatar: str | None
    ) -> Person:
        return Person(ids.make(*user_span), name, old if legacy else new, global_name, avatar)

    if legacy:
        owner = Person(ids.make(*user_span), "Nova", "4242", None, None)
        if spec.channel_prefix == "":
            owner = Person(owner.id, "Nova", "0000", None, ids.hexhash())
    else:
        owner = Person(ids.make(*user_span), "nova.owner", "0", "Nova ✨", ids.hexhash(True))
    alice = person("alice", "0", "0420", "Alice ☀", ids.hexhash())
    bob = person("bob", "1234", "1234", None, None)
    carol = person("carol", "0000", "0000", "", ids.hexhash(True))
    dave = person("dave", "0", "7777", "Dave", None)
    erin = person("erin.ü", "0", "3141", "Érin", ids.hexhash())
    frank = person("frank", "0", "2718", "Frank", None)
    relationships = ((alice, 1), (bob, 1), (carol, 1), (dave, 2), (erin, 1), (frank, 3))
    stranger, oldtimer, transit, unknown, noindex, x_user, y_user = (
        ids.make(*user_span) for _ in range(7)
    )

    g1 = Guild(ids.make(*user_span), "Café ☕ Lounge", True)
    g2 = Guild(ids.make(*user_span), "Rust Fans", True)
    g3 = Guild(ids.make(*user_span), "Quiet Place", True)  # joined, no channel exported
    left1 = Guild(ids.make(*user_span), "Gone Guild", False)
    left2 = Guild(ids.make(*user_span), "Unknown server", False)  # name known nowhere
    g1_old = GuildRef(g1.id, "Café Lounge")  # channel.json keeps an older name
    g2_ref = GuildRef(g2.id, g2.name)

    span = (spec.start, spec.end)
    chans: list[Channel] = []

    def chan(
        type_code: int,
        kind: Kind,
        name: str | None,
        guild: GuildRef | None,
        recipients: tuple[str, ...] | None,
        index_name: str | None,
        weight: int | None = None,
        full_span: bool = False,
    ) -> str:
        if full_span:
            start, end = span
        else:
            third = (span[1] - span[0]) // 3
            start = rng.randrange(span[0], span[0] + third)
            end = rng.randrange(span[1] - third, span[1])
        # Created a little before its first message (messages walk back ~ one mean gap more).
        cid = ids.make(start - 30 * 86_400, start - 86_400)
        w = rng.randint(1, 10) if weight is None else weight
        chans.append(
            Channel(cid, type_code, kind, name, guild, recipients, index_name, w, start, end)
        )
        return cid

    o = owner.id
    dm = "Direct Message with "
    # Guild channels (threads included), in joined and left servers.
    big = chan(0, "guild", "général", g1_old, None, "général in Café ☕ Lounge", full_span=True)
    chan(0, "guild", "memes", g1_old, None, None)
    g1_voice = chan(
        2, "guild", "Voice Lounge 🔊", g1_old, None, "Voice Lounge 🔊 in Café ☕ Lounge", 1
    )
    chan(11, "guild", "bug hunt 🐛", g1_old, None, "bug hunt 🐛 in Café ☕ Lounge")
    chan(12, "guild", "secret-plans", g1_old, None, "secret-plans in Café ☕ Lounge")
    chan(17, "guild", "new-kind", g1_old, None, "new-kind in Café ☕ Lounge")  # unknown type
    chan(0, "guild", "rust-help", g2_ref, None, "rust-help in Rust Fans")
    chan(5, "guild", "announcements", g2_ref, None, "Unknown channel")
    chan(11, "guild", None, g2_ref, None, "old-thread in Rust Fans")  # name from index.json
    chan(0, "guild", "left-chat", GuildRef(left1.id, left1.name), None, "left-chat in Gone Guild")
    chan(0, "guild", "orphan", GuildRef(left2.id, None), None, None)
    # DMs: friends (names from relationships), strangers (names from index.json), odd ones.
    dm_alice = chan(1, "dm", None, None, (o, alice.id), f"{dm}alice#{alice.discriminator}")
    chan(1, "dm", None, None, (bob.id, o), f"{dm}bob#{bob.discriminator}")
    chan(1, "dm", None, None, (o, carol.id), f"{dm}carol#{carol.discriminator}")
    chan(1, "dm", None, None, (o, dave.id), f"{dm}dave#{dave.discriminator}")  # blocked
    chan(1, "dm", None, None, (o, stranger), f"{dm}stranger#0")
    chan(1, "dm", None, None, (oldtimer, o), f"{dm}oldtimer#4821")
    chan(1, "dm", None, None, (o, transit), f"{dm}transit#0000", weight=0)  # empty channel
    chan(1, "dm", None, None, (o, unknown), f"{dm}Unknown Participant")
    chan(1, "dm", None, None, (o, DELETED_USER), None)
    chan(1, "dm", None, None, (o, noindex), None)
    chan(18, "dm", None, None, (erin.id, o), None)  # unknown type, two recipients
    # Group DMs.
    group = chan(
        3, "group", "Weekend 🎮 crew", None, (alice.id, o, bob.id, x_user), "Weekend 🎮 crew"
    )
    chan(3, "group", None, None, (o, x_user, DELETED_USER, y_user), None)
    chan(3, "group", None, None, (o, y_user, frank.id), "Old Group Chat")
    chan(18, "group", "mystery group", None, (o, x_user, y_user), None)  # unknown type, 3
    # Other: unknown type, one recipient, no guild (counted in message_sent only).
    chan(17, "other", None, None, (o,), "None")

    payments = _payments(ids, rng, spec)
    stray_voice = ids.make(*span)
    for rank in range(extra):
        weight = zipf_weight(rank)
        if rank % 3 == 2:
            peer = ids.make(*user_span)
            chan(1, "dm", None, None, (o, peer), f"{dm}pal{rank}#0", weight)
        elif rank % 3 == 1:
            chan(0, "guild", f"topic-{rank}", g2_ref, None, f"topic-{rank} in Rust Fans", weight)
        else:
            chan(0, "guild", f"room-{rank}", g1_old, None, None, weight)
    return Plan(
        owner=owner,
        relationships=relationships,
        guilds=(g1, g2, g3, left1, left2),
        channels=tuple(chans),
        big_channel=big,
        orphan_folder=ids.make(*span),
        payments=payments,
        voice_channels=((g1_voice, g1.id), (dm_alice, None), (group, None), (stray_voice, g2.id)),
    )


def _payments(ids: _Ids, rng: random.Random, spec: VariantSpec) -> tuple[Payment, ...]:
    """Payments in every status, an in-app ``discord_orb`` one, odd currency case/offsets."""

    clock = Clock()

    def stamp() -> str:
        t = rng.randrange(spec.start, spec.end)
        return clock.space(t).replace(" ", "T") + f".{rng.randrange(1_000_000):06d}+00:00"

    span = (spec.start, spec.end)
    # 01:30 at UTC+2 is 23:30 the day before in UTC: the payment date must follow UTC.
    local_day = clock.day(rng.randrange(spec.start, spec.end) // 86_400)
    shifted = f"{local_day}T01:30:00.000000+02:00"
    rows = [
        Payment(ids.make(*span), 999, "usd", 1, stamp(), "Nitro Monthly"),
        Payment(ids.make(*span), 499, "EUR", 1, shifted, "Nitro Basic"),
        Payment(ids.make(*span), 1999, "gbp", 1, stamp(), None),  # no description
        Payment(ids.make(*span), 999, "usd", 2, stamp(), "Nitro Monthly (failed)"),
        Payment(ids.make(*span), 999, "usd", 3, stamp(), "Nitro Monthly (refunded)"),
        Payment(ids.make(*span), 999, "usd", 4, stamp(), "Refund pending"),
        Payment(ids.make(*span), 999, "usd", 5, stamp(), "Partially refunded"),
        Payment(ids.make(*span), 999, "usd", 6, stamp(), "Pending"),
        Payment(ids.make(*span), 700, "discord_orb", 1, stamp(), "Orb reward"),
    ]
    return tuple(rows)
