"""Analytics NDJSON lines (Activity/analytics shards) and the per-event tallies they imply.

Every line is one flat JSON object with ``event_type`` as its first key (except the
predicted_gender/predicted_age lines that have none), quoted timestamp strings
(``"timestamp":"\\"2023-06-01T12:34:56.789Z\\""``), and ~40 realistic noise fields taken from a
small pre-serialised pool (so a line costs a few string joins, not a JSON encode). Most lines are
irrelevant event types; the counted ones are tallied as they are produced, in Counters keyed by
day/hour numbers, never by keeping the lines.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.generator.clock import Clock
from cordvault.insights.generator.plan import Plan
from cordvault.insights.generator.realism import at_diurnal_hour, realistic_event, realistic_plain
from cordvault.insights.generator.scenarios import TimedEvent, session_timeline, voice_timeline

PLAIN_EVENTS = (
    "email_opened", "login_successful", "app_crashed", "app_native_crash", "user_avatar_updated",
    "oauth2_authorize_accepted", "remote_auth_login", "notification_clicked", "captcha_served",
    "voice_message_recorded", "message_reported", "message_edited", "premium_upsell_viewed",
)  # fmt: skip
# Names that share a prefix with counted events must not be counted (exact match only).
IRRELEVANT_EVENTS = (
    "channel_opened", "start_speaking", "send_message", "notification_viewed", "guild_viewed",
    "ready_payload_received", "experiment_user_triggered", "dm_list_viewed", "image_opened",
    "settings_pane_viewed", "search_opened", "premium_marketing_page_viewed", "voice_disconnect",
    "start_listening", "media_session_joined", "network_action_user_profile_fetch",
    "app_ui_viewed", "keyboard_shortcut_used", "emoji_picker_opened", "track_impression",
    "guild_joined_pending", "app_opened_deeplink", "session_start_client", "add_reaction_failed",
)  # fmt: skip
NEAR_MISSES = IRRELEVANT_EVENTS[-4:]
EMOJIS = (("👍", None), ("❤️", None), ("😂", None), ("kekw", "804"), ("pepe_hands", "811"),
          ("🎉", None), ("thonk", "827"))  # fmt: skip
OSES = ("Windows", "Mac OS X", "Linux", "Android", "iOS")
_RELEVANT_KEYS = {"event_type", "os", "guild_id", "channel_id", "application_id", "emoji_name",
                  "emoji_id", "timestamp", "client_track_timestamp"}  # fmt: skip


@dataclass
class EventTally:
    """What the analytics files hold, per the semantics doc (day/hour as Unix day/hour numbers)."""

    events: int = 0  # lines with an event_type
    skipped: int = 0  # lines without one
    guild_joined: Counter[tuple[str, int]] = field(default_factory=Counter)  # (guild, hour)
    commands: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # (day, app, guild)
    reactions: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # (day, ch, emoji)
    custom_reactions: set[tuple[int, str, str]] = field(default_factory=set)
    app_opened: Counter[tuple[int, str]] = field(default_factory=Counter)  # (day, os)
    plain: Counter[tuple[str, int]] = field(default_factory=Counter)  # (event name, day)
    timed: list[TimedEvent] = field(default_factory=list)  # voice + session lines written


def _noise_pool(rng: random.Random, size: int = 64) -> list[str]:
    """Pre-serialised ``"key":value`` runs (no braces) of 0.4-1.3 KB."""
    browsers = ("Discord Client", "Chrome", "Firefox", "Safari", "Discord Android", "Discord iOS")
    cities = ("Paris", "Berlin", "São Paulo", "Madrid", "Montréal", "Tokyo", "Austin", "Lagos")
    pool: list[str] = []
    for _ in range(size):
        d: dict[str, object] = {
            "user_id": str(rng.getrandbits(58)),
            "domain": "discord.com",
            "client_send_timestamp": f'"{rng.randrange(2020, 2025)}-01-01T00:00:00.000Z"',
            "freight_hostname": f"freight-{rng.randrange(100)}.prod",
            "ip": f"{rng.randrange(1, 255)}.{rng.randrange(255)}.{rng.randrange(255)}.0",
            "day": str(rng.randrange(1000, 3000)),
            "chosen_locale": rng.choice(("en-US", "fr", "de", "pt-BR", "es-ES")),
            "detected_locale": rng.choice(("en-US", "fr", "de", "pt-BR", "es-ES")),
            "browser": rng.choice(browsers),
            "device": rng.choice(("", "iPhone14,2", "Pixel 7", "SM-G991B")),
            "os_version": f"{rng.randrange(5, 15)}.{rng.randrange(10)}.{rng.randrange(20000)}",
            "os_arch": rng.choice(("x64", "arm64")),
            "release_channel": rng.choice(("stable", "ptb", "canary")),
            "client_version": f"1.0.{rng.randrange(9000)}",
            "client_build_number": rng.randrange(100_000, 300_000),
            "city": rng.choice(cities),
            "country_code": rng.choice(("FR", "DE", "BR", "ES", "CA", "JP", "US", "NG")),
            "region_code": f"R{rng.randrange(99)}",
            "time_zone": rng.choice(("Europe/Paris", "America/Sao_Paulo", "Asia/Tokyo")),
            "isp": rng.choice(("Orange", "Deutsche Telekom", "Vivo", "Comcast Cable")),
            "system_locale": rng.choice(("en-US", "fr-FR", "de-DE")),
            "accessibility_features": rng.randrange(0, 1 << 20),
            "client_performance_cpu": round(rng.random() * 100, 2),
            "client_performance_memory": rng.randrange(100_000, 4_000_000),
            "cpu_core_count": rng.choice((2, 4, 8, 16)),
            "accessibility_support_enabled": rng.random() < 0.1,
            "premium_type": rng.choice((None, 0, 1, 2)),
            "rendered_locale": "en-US",
            "uptime_app": rng.randrange(0, 900_000),
            "launch_signature": f"{rng.getrandbits(128):032x}",
            "client_heartbeat_session_id": f"{rng.getrandbits(128):032x}",
            "client_app_state": rng.choice(("focused", "unfocused", "background")),
            "browser_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            * rng.randint(1, 3),
            "referring_domain": rng.choice(("", "google.com", "reddit.com")),
            "search_engine": rng.choice(("", "google", "bing")),
            "location": rng.choice(("chat input", "message context menu", "user settings")),
            "location_section": rng.choice(("", "header", "sidebar")),
            "design_id": rng.randrange(0, 4),
        }
        assert not _RELEVANT_KEYS & d.keys()
        # Real lines carry different subsets of fields: keep ~3/4 of them (0.5-1.5 KB lines).
        kept = {k: v for k, v in d.items() if k in ("user_id", "ip") or rng.random() < 0.75}
        pool.append(orjson.dumps(kept).decode()[1:-1])
    return pool


class AnalyticsLines:
    """Yields ``total`` NDJSON lines (each ending in ``\\n``) and tallies them in ``tally``.

    ``count`` False produces the same kind of lines without tallying (reporting/ copies).
    """

    def __init__(
        self,
        rng: random.Random,
        plan: Plan,
        start: int,
        end: int,
        total: int,
        realistic: bool = False,
    ) -> None:
        self.rng = rng
        self.realistic = realistic
        self.start = start
        self.span = max(end - start, 1)
        self.total = total
        self.clock = Clock()
        self.noise = _noise_pool(rng)
        self.tally = EventTally()
        extra_guilds = [str(rng.getrandbits(60)) for _ in range(3)]
        self.guild_ids = [g.id for g in plan.guilds] + extra_guilds
        text = [c.id for c in plan.channels if c.kind in ("guild", "dm", "group")]
        self.channel_ids = [*text[:8], str(rng.getrandbits(60))]
        # Realistic reactions land in the user's channels, busier ones more often.
        self._reaction_channels = text[:8] + text[-60:] if realistic else self.channel_ids
        self.app_ids = [str(rng.getrandbits(59)) for _ in range(4)]
        budget = max(total // 300, 1)
        timed: list[TimedEvent] = []
        for cid, gid in plan.voice_channels:
            timed += voice_timeline(rng, cid, gid, budget // len(plan.voice_channels), start, end)
        timed += session_timeline(rng, budget, start, end)
        self.tally.timed = timed
        self._specials: list[str] = [self._timed_line(e) for e in timed]
        self._specials += self._one_of_each()
        if len(self._specials) > total:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                f"events must be at least {len(self._specials)} to hold every case",
            )
        self._special_count = len(self._specials)

    @property
    def minimum(self) -> int:
        """The fewest lines that still hold every case."""
        return self._special_count

    # -- line assembly -------------------------------------------------------------------

    def _stamp(self, t: int, ms: int) -> str:
        return f'"timestamp":"\\"{self.clock.iso_ms(t, ms)}\\""'

    def _line(self, event_type: str | None, fields: str, t: int, ms: int, ctt: str) -> str:
        head = f'{{"event_type":"{event_type}",' if event_type else "{"
        noise = self.noise[self.rng.getrandbits(6)]
        return f"{head}{fields}{self._stamp(t, ms)},{ctt}{noise}}}\n"

    def _ctt(self, t: int) -> str:
        r = self.rng.random()
        if r < 0.7:
            ms = int(self.rng.random() * 1000)
            return f'"client_track_timestamp":"\\"{self.clock.iso_ms(t - 1, ms)}\\"",'
        if r < 0.9:
            return '"client_track_timestamp":"null",'
        return ""

    def _timed_line(self, e: TimedEvent) -> str:
        fields = ""
        if e.channel_id is not None:
            fields += f'"channel_id":"{e.channel_id}",'
        if e.guild_id is not None:
            fields += f'"guild_id":"{e.guild_id}",'
        if e.os is not None:
            fields += f'"os":"{e.os}",'
        if e.ctt_mode == "value":
            ctt = f'"client_track_timestamp":"\\"{self.clock.iso_ms(e.ctt, e.ctt_ms)}\\"",'
        elif e.ctt_mode == "null":
            ctt = '"client_track_timestamp":"null",'
        else:
            ctt = ""
        self.tally.events += 1
        return self._line(e.event_type, fields, e.ts, e.ts_ms, ctt)

    def _time(self) -> tuple[int, int]:
        rand = self.rng.random
        t = self.start + int(rand() * self.span)
        if self.realistic:
            t = max(at_diurnal_hour(self.rng, t), self.start)
        return t, int(rand() * 1000)

    # -- counted events ------------------------------------------------------------------

    def _plain(self, name: str) -> str:
        t, ms = self._time()
        counted = "app_crashed" if name == "app_native_crash" else name
        self.tally.plain[(counted, t // 86_400)] += 1
        self.tally.events += 1
        return self._line(name, "", t, ms, self._ctt(t))

    def _guild_joined(self, with_guild: bool) -> str:
        t, ms = self._time()
        fields = ""
        if with_guild:
            gid = self.rng.choice(self.guild_ids)
            fields = f'"guild_id":"{gid}",'
            self.tally.guild_joined[(gid, t // 3600)] += 1
        self.tally.events += 1
        return self._line("guild_joined", fields, t, ms, self._ctt(t))

    def _command(self, app: str | None, with_guild: bool) -> str:
        t, ms = self._time()
        fields = "" if app is None else f'"application_id":"{app}",'
        gid = self.rng.choice(self.guild_ids)
        if with_guild:
            fields += f'"guild_id":"{gid}",'
        if app is not None and app != "-1" and with_guild:
            self.tally.commands[(t // 86_400, app, gid)] += 1
        self.tally.events += 1
        return self._line("application_command_used", fields, t, ms, self._ctt(t))

    def _reaction(self, mode: str) -> str:
        """``mode``: custom / empty-id / no-id / no-emoji / no-channel."""
        t, ms = self._time()
        name, custom_id = self.rng.choice(EMOJIS)
        pool = self._reaction_channels
        # Realistic: a skewed pick (the first channels, the busiest, most often).
        cid = pool[int(len(pool) * self.rng.random() ** 3)] if self.realistic else (
            self.rng.choice(pool))  # fmt: skip
        fields = "" if mode == "no-channel" else f'"channel_id":"{cid}",'
        if mode != "no-emoji":
            fields += f'"emoji_name":"{name}",'
        if mode == "custom":
            fields += f'"emoji_id":"{custom_id or self.rng.getrandbits(60)}",'
        elif mode == "empty-id":
            fields += '"emoji_id":"",'
        if mode not in ("no-channel", "no-emoji"):
            key = (t // 86_400, cid, name)
            self.tally.reactions[key] += 1
            if mode == "custom":
                self.tally.custom_reactions.add(key)
        self.tally.events += 1
        return self._line("add_reaction", fields, t, ms, self._ctt(t))

    def _app_opened(self, with_os: bool) -> str:
        t, ms = self._time()
        fields = ""
        if with_os:
            os = self.rng.choice(OSES)
            fields = f'"os":"{os}",'
            self.tally.app_opened[(t // 86_400, os)] += 1
        self.tally.events += 1
        return self._line("app_opened", fields, t, ms, self._ctt(t))

    def _irrelevant(self, name: str) -> str:
        t, ms = self._time()
        fields = ""
        if self.rng.random() < 0.3:
            fields = f'"channel_id":"{self.rng.choice(self.channel_ids)}",'
        self.tally.events += 1
        return self._line(name, fields, t, ms, self._ctt(t))

    def _unnamed(self) -> str:
        t, ms = self._time()
        self.tally.skipped += 1
        if self.rng.random() < 0.5:
            fields = f'"predicted_gender":"{self.rng.choice(("male", "female", "non_binary"))}",'
        else:
            fields = f'"predicted_age":"{self.rng.choice(("18-24", "25-34", "35-44"))}",'
        fields += f'"probability":"{self.rng.random():.3f}",'
        return self._line(None, fields, t, ms, "")

    def _one_of_each(self) -> list[str]:
        lines = [self._plain(n) for n in PLAIN_EVENTS]
        lines += [self._guild_joined(True), self._guild_joined(False)]
        lines += [self._command(self.app_ids[0], True), self._command("-1", True),
                  self._command(self.app_ids[1], False), self._command(None, True)]  # fmt: skip
        lines += [self._reaction(m) for m in ("custom", "empty-id", "no-id", "no-emoji",
                                              "no-channel")]  # fmt: skip
        lines += [self._app_opened(True), self._app_opened(False), self._unnamed(), self._unnamed()]
        lines += [self._irrelevant(n) for n in NEAR_MISSES]
        return lines

    def _realistic_filler(self) -> str:
        rng = self.rng
        kind = realistic_event(rng)
        if kind == "irrelevant":
            return self._irrelevant(IRRELEVANT_EVENTS[int(rng.random() * len(IRRELEVANT_EVENTS))])
        if kind == "app_opened":
            return self._app_opened(rng.random() < 0.97)
        if kind == "reaction":
            q = rng.random()
            return self._reaction("custom" if q < 0.25 else "no-id")
        if kind == "plain":
            return self._plain(realistic_plain(rng))
        if kind == "command":
            return self._command(rng.choice(self.app_ids), True)
        if kind == "guild_joined":
            return self._guild_joined(True)
        return self._unnamed()

    def _filler(self) -> str:
        rng = self.rng
        if self.realistic:
            return self._realistic_filler()
        r = rng.random()
        if r < 0.66:
            return self._irrelevant(IRRELEVANT_EVENTS[int(rng.random() * len(IRRELEVANT_EVENTS))])
        if r < 0.68:
            return self._unnamed()
        if r < 0.81:
            return self._plain(PLAIN_EVENTS[int(rng.random() * len(PLAIN_EVENTS))])
        if r < 0.83:
            return self._guild_joined(rng.random() < 0.9)
        if r < 0.86:
            q = rng.random()
            app = None if q < 0.05 else "-1" if q < 0.15 else rng.choice(self.app_ids)
            return self._command(app, rng.random() < 0.9)
        if r < 0.90:
            q = rng.random()
            mode = ("custom" if q < 0.3 else "empty-id" if q < 0.4 else "no-emoji" if q < 0.43
                    else "no-channel" if q < 0.46 else "no-id")  # fmt: skip
            return self._reaction(mode)
        return self._app_opened(rng.random() < 0.9)

    def lines(self) -> Iterator[str]:
        """All lines, the hand-shaped ones scattered at seeded positions among the filler."""
        rng = self.rng
        specials = self._specials
        rng.shuffle(specials)
        positions = sorted(rng.sample(range(self.total), len(specials)))
        positions.append(self.total)
        next_pos = positions[0]
        k = 0
        for i in range(self.total):
            if i == next_pos:
                yield specials[k]
                k += 1
                next_pos = positions[k]
            else:
                yield self._filler()
