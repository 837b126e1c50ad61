"""The named package presets (``VARIANTS``): which layout features a generated package has.

A :class:`VariantSpec` says *how* the package looks (folder names, channel folder prefix,
message file format, channel type style, where payments live, which sections exist, how many
analytics shards); the content itself (people, channels, messages, events) is the same plan for
every variant, so the expected aggregates differ only where the layout changes the meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Section = Literal["account", "activity", "messages", "servers"]
MessageFormat = Literal["json", "csv", "mixed"]
TypeStyle = Literal["name", "int", "mixed"]
PaymentsPlace = Literal["records", "user", "both"]
UsernameStyle = Literal["new", "legacy"]
AnalyticsMode = Literal["events", "empty", "opt-out", "absent"]

ALL_SECTIONS: tuple[Section, ...] = ("account", "activity", "messages", "servers")


def _ts(year: int, month: int = 1, day: int = 1) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class VariantSpec:
    """One preset. ``folders`` maps a section to its top folder name (files inside stay English)."""

    name: str
    folders: dict[Section, str]
    sections: frozenset[Section] = frozenset(ALL_SECTIONS)
    top_folder: str = ""  # e.g. "package/" for a re-zipped export
    channel_prefix: str = "c"
    message_format: MessageFormat = "json"
    type_style: TypeStyle = "name"
    payments: PaymentsPlace = "records"
    usernames: UsernameStyle = "new"
    analytics: AnalyticsMode = "events"
    shards: int = 3
    # Time span of the content (Unix seconds, UTC): messages and events fall inside it.
    start: int = field(default_factory=lambda: _ts(2019))
    end: int = field(default_factory=lambda: _ts(2025, 9, 30))
    # Malformed message rows (bad timestamps) and a channel folder without channel.json.
    faults: bool = False
    export_year: int = 2025

    def has(self, section: Section) -> bool:
        """Whether the package holds this section."""
        return section in self.sections


_MODERN = {
    "account": "Account",
    "activity": "Activity",
    "messages": "Messages",
    "servers": "Servers",
}
_LEGACY = {
    "account": "account",
    "activity": "activity",
    "messages": "messages",
    "servers": "servers",
}
_TRANSLATED: dict[str, dict[str, str]] = {
    "fr": {
        "account": "Compte",
        "activity": "Activité",
        "messages": "Messages",
        "servers": "Serveurs",
    },
    "de": {
        "account": "Konto",
        "activity": "Aktivität",
        "messages": "Nachrichten",
        "servers": "Server",
    },
    "pt": {
        "account": "Conta",
        "activity": "Atividade",
        "messages": "Mensagens",
        "servers": "Servidores",
    },
    "es": {
        "account": "Cuenta",
        "activity": "Actividad",
        "messages": "Mensajes",
        "servers": "Servidores",
    },
}


def _folders(names: dict[str, str]) -> dict[Section, str]:
    return {s: names[s] for s in ALL_SECTIONS}


def _build() -> dict[str, VariantSpec]:
    modern = _folders(_MODERN)
    legacy = _folders(_LEGACY)
    specs = [
        VariantSpec("modern", modern),
        *(
            VariantSpec(f"translated-{lang}", _folders(names))
            for lang, names in _TRANSLATED.items()
        ),
        VariantSpec(
            "legacy-csv",
            legacy,
            message_format="csv",
            type_style="int",
            payments="user",
            usernames="legacy",
            shards=1,
            faults=True,
            start=_ts(2017),
            end=_ts(2023, 12, 31),
            export_year=2023,
        ),
        VariantSpec(
            "legacy-no-prefix",
            legacy,
            channel_prefix="",
            message_format="csv",
            type_style="int",
            payments="user",
            usernames="legacy",
            shards=1,
            start=_ts(2016),
            end=_ts(2021, 1, 1) - 1,
            export_year=2020,
        ),
        VariantSpec("rezipped", modern, top_folder="package/"),
        VariantSpec(
            "mixed",
            modern,
            message_format="mixed",
            type_style="mixed",
            payments="both",
            faults=True,
            shards=2,
        ),
        VariantSpec(
            "partial-no-activity",
            modern,
            sections=frozenset({"account", "messages", "servers"}),
            analytics="absent",
            shards=0,
        ),
        VariantSpec(
            "partial-no-servers", modern, sections=frozenset({"account", "activity", "messages"})
        ),
        VariantSpec(
            "partial-messages-only",
            modern,
            sections=frozenset({"messages"}),
            analytics="absent",
            shards=0,
        ),
        VariantSpec("empty-analytics", modern, analytics="empty", shards=1),
        VariantSpec("no-analytics-opt-out", modern, analytics="opt-out", shards=0),
    ]
    return {s.name: s for s in specs}


VARIANTS: dict[str, VariantSpec] = _build()
