"""Finding a package's sections by the files they hold, never by folder names.

Folder names changed over time (lowercase, capitalised, translated to the account language, an
extra top folder when re-zipped), file names did not. See ``docs/insights-semantics.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from posixpath import dirname

from cordvault.insights.package.zipsource import Entry

_CHANNEL_JSON = re.compile(r"^(?P<dir>(?:.*/)?)c?(?P<id>\d{1,25})/channel\.json$")
_MESSAGE_FILE = re.compile(r"^(?P<dir>(?:.*/)?)c?(?P<id>\d{1,25})/messages\.(?P<kind>json|csv)$")
_GUILD_JSON = re.compile(r"^(?P<dir>(?:.*/)?)\d{1,25}/guild\.json$")
_ANALYTICS = re.compile(r"^(?:.*/)?analytics/[^/]+\.json$")


@dataclass(frozen=True)
class ChannelFiles:
    """The files of one channel folder (either may be missing)."""

    channel_id: str
    channel_json: str | None
    messages_file: str | None
    messages_kind: str | None  # "json" | "csv"
    messages_size: int


@dataclass
class PackageLayout:
    """Where each section's files are; ``None`` / empty when a section is absent."""

    user_json: str | None = None
    payments_json: str | None = None
    messages_index: str | None = None
    servers_index: str | None = None
    channels: list[ChannelFiles] = field(default_factory=list)
    analytics_files: list[tuple[str, int]] = field(default_factory=list)
    has_activity: bool = False
    has_servers: bool = False
    has_messages: bool = False

    @property
    def sections(self) -> list[str]:
        """Sorted names of the sections present."""
        present = {
            "account": self.user_json is not None,
            "activity": self.has_activity,
            "messages": self.has_messages,
            "servers": self.has_servers,
        }
        return sorted(name for name, ok in present.items() if ok)


def _most_common_dir(dirs: list[str]) -> str | None:
    if not dirs:
        return None
    return Counter(dirs).most_common(1)[0][0]


def detect_layout(entries: list[Entry]) -> PackageLayout:
    """Locate every section of the package from its entry list."""
    names = {e.name: e for e in entries}
    layout = PackageLayout()

    # Account: the shallowest user.json (one folder below the root).
    user_jsons = sorted(
        (n for n in names if n.endswith("/user.json") and "/applications/" not in n),
        key=lambda n: (n.count("/"), n),
    )
    if user_jsons:
        layout.user_json = user_jsons[0]
        account_dir = dirname(layout.user_json)
        payments = f"{account_dir}/user_data_exports/discord_billing/payments.json"
        if payments in names:
            layout.payments_json = payments

    # Messages: the folder whose channel sub-folders hold channel.json / messages.*.
    by_channel: dict[tuple[str, str], dict[str, str]] = {}
    for name in names:
        if m := _CHANNEL_JSON.match(name):
            by_channel.setdefault((m["dir"], m["id"]), {})["channel"] = name
        elif m := _MESSAGE_FILE.match(name):
            slot = by_channel.setdefault((m["dir"], m["id"]), {})
            # messages.json wins over a (theoretical) csv twin.
            if m["kind"] == "json" or "messages" not in slot:
                slot["messages"] = name
                slot["kind"] = m["kind"]
    messages_dir = _most_common_dir([d for (d, _id), f in by_channel.items() if "channel" in f])
    if messages_dir is None:
        messages_dir = _most_common_dir([d for (d, _id) in by_channel])
    if messages_dir is not None:
        layout.has_messages = True
        for (d, channel_id), files in sorted(by_channel.items()):
            if d != messages_dir:
                continue
            msg = files.get("messages")
            layout.channels.append(
                ChannelFiles(
                    channel_id=channel_id,
                    channel_json=files.get("channel"),
                    messages_file=msg,
                    messages_kind=files.get("kind"),
                    messages_size=names[msg].size if msg else 0,
                )
            )
        index = f"{messages_dir}index.json"
        if index in names:
            layout.messages_index = index

    # Servers: the folder whose sub-folders hold guild.json.
    servers_dir = _most_common_dir([m["dir"] for n in names if (m := _GUILD_JSON.match(n))])
    if servers_dir is not None:
        layout.has_servers = True
        if f"{servers_dir}index.json" in names:
            layout.servers_index = f"{servers_dir}index.json"
    else:
        # A Servers folder with only its index: an index.json one folder below the root that is
        # neither the messages index nor inside a channel/guild folder.
        root = _root_of(layout, messages_dir)
        for name in sorted(names):
            if (
                name.endswith("/index.json")
                and name != layout.messages_index
                and root is not None
                and name.startswith(root)
                and name[len(root) :].count("/") == 1
            ):
                layout.servers_index = name
                layout.has_servers = True
                break

    # Activity: every analytics shard; modeling/reporting/tns copies are not read.
    layout.analytics_files = sorted((n, e.size) for n, e in names.items() if _ANALYTICS.match(n))
    layout.has_activity = bool(layout.analytics_files)
    return layout


def _root_of(layout: PackageLayout, messages_dir: str | None) -> str | None:
    """The package root prefix ('' or 'package/'), from the account or messages folder."""
    if layout.user_json is not None:
        account_dir = dirname(layout.user_json)
        return dirname(account_dir) + "/" if "/" in account_dir else ""
    if messages_dir:
        parent = dirname(messages_dir.rstrip("/"))
        return parent + "/" if parent else ""
    return None
