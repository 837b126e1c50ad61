"""``generate_package``: lay a plan out as a Discord Data Package zip and compute its expected.

The run is deterministic for (variant, seed, messages, events): every random choice comes from
``random.Random`` instances seeded with strings, and every collection written is ordered
explicitly. Memory stays flat: message and event rows are streamed into the zip and only tallies
are kept.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from cordvault.insights.generator.analytics import AnalyticsLines
from cordvault.insights.generator.contents import ContentPool
from cordvault.insights.generator.expected import TYPE_NAMES, Expected, build_expected
from cordvault.insights.generator.messages import ChannelStats, FileFormat, MessageWriter
from cordvault.insights.generator.options import GenOptions
from cordvault.insights.generator.plan import Channel, Payment, Plan, build_plan
from cordvault.insights.generator.realism import extra_channels
from cordvault.insights.generator.variants import ALL_SECTIONS, VariantSpec
from cordvault.insights.generator.zipout import PackageZip

Progress = Callable[[str, int, int], None]
REPORTING_COPIES = 20
REPORTING_ONLY_LINES = 400
README = (
    "This is a synthetic Discord Data Package made by `cordvault dev gen-package`.\n"
    "It contains no real person's data.\n"
)
_BATCH = 2048


def generate_package(
    out_zip: Path,
    options: GenOptions,
    expected_path: Path | None = None,
    progress: Progress | None = None,
) -> Expected:
    """Write the package zip to ``out_zip`` and, if given, expected.json to ``expected_path``.

    ``progress(stage, done, total)`` is called with stage "messages" then "analytics".
    Invalid options raise CordvaultError(INVALID_INPUT) before anything is written.
    """
    spec = options.check()
    realistic = options.profile == "realistic"
    plan = build_plan(options.seed, spec, extra_channels(options.messages) if realistic else 0)
    analytics = _analytics(options, spec, plan)
    stats: dict[str, ChannelStats] = {}
    meta: dict[str, object] = {}
    payments: list[Payment] = []
    root = spec.top_folder
    with PackageZip(out_zip, options.compress_level, spec.export_year) as zf:
        zf.write_bytes(f"{root}README.txt", README.encode())
        if spec.has("account"):
            payments = _write_account(zf, f"{root}{spec.folders['account']}/", plan, spec)
        if spec.has("messages"):
            stats, files = _write_messages(zf, f"{root}{spec.folders['messages']}/", plan, spec,
                                           options, progress)  # fmt: skip
            meta.update(files)
        if spec.has("servers"):
            _write_servers(zf, f"{root}{spec.folders['servers']}/", plan)
        analytics_files = 0
        if spec.has("activity"):
            activity = f"{root}{spec.folders['activity']}/"
            analytics_files = _write_activity(zf, activity, spec, analytics, progress)
    tally = analytics.tally if analytics is not None and spec.analytics == "events" else None
    present = [s for s in ALL_SECTIONS if spec.has(s)]
    if analytics_files == 0 and "activity" in present:
        present.remove("activity")
    total = sum(s.count for s in stats.values())
    first = [s.min_t for s in stats.values() if s.min_t is not None]
    last = [s.max_t for s in stats.values() if s.max_t is not None]
    meta.update(
        {
            "sections": present,
            "analytics_files": analytics_files,
            "analytics_events": tally.events if tally else 0,
            "analytics_lines_skipped": tally.skipped if tally else 0,
            "malformed_lines": 0,
            "messages_total": total,
            "malformed_messages": sum(s.malformed for s in stats.values()),
            "first_message_at": min(first) if first else None,
            "last_message_at": max(last) if last else None,
        }
    )
    meta.setdefault("message_files_json", 0)
    meta.setdefault("message_files_csv", 0)
    meta.setdefault("channels_without_metadata", 0)
    expected = build_expected(spec, options.as_json(), plan, stats, tally, payments,
                              dict(sorted(meta.items())))  # fmt: skip
    if expected_path is not None:
        expected.write_json(expected_path)
    return expected


def _analytics(options: GenOptions, spec: VariantSpec, plan: Plan) -> AnalyticsLines | None:
    rng = random.Random(f"cordvault-analytics:{options.seed}")
    if spec.analytics == "events":
        return AnalyticsLines(
            rng, plan, spec.start, spec.end, options.events, options.profile == "realistic"
        )
    if spec.analytics in ("empty", "opt-out"):
        # Only reporting/ gets lines (never counted): enough to hold every case.
        return AnalyticsLines(rng, plan, spec.start, spec.end, REPORTING_ONLY_LINES)
    return None


def _payment_json(p: Payment) -> dict[str, object]:
    data: dict[str, object] = {"id": p.id, "amount": p.amount, "currency": p.currency,
                               "status": p.status, "created_at": p.created_at}  # fmt: skip
    if p.description is not None:
        data["description"] = p.description
    return data


def _write_account(zf: PackageZip, base: str, plan: Plan, spec: VariantSpec) -> list[Payment]:
    """user.json (+ payments.json); returns the payments in the order a reader meets them."""
    owner = plan.owner
    user: dict[str, object] = {
        "id": owner.id,
        "username": owner.username,
        "discriminator": owner.discriminator,
    }
    if owner.global_name is not None:
        user["global_name"] = owner.global_name
    user.update({"avatar_hash": owner.avatar, "email": "owner@example.invalid", "verified": True,
                 "has_mobile": False, "flags": 0, "premium_until": None})  # fmt: skip
    user["relationships"] = [
        {"id": p.id, "type": kind, "nickname": None, "user": p.as_json()}
        for p, kind in plan.relationships
    ]
    payments = list(plan.payments)
    in_user: list[Payment] = []
    in_records: list[Payment] = []
    if spec.payments == "user":
        in_user = payments
    elif spec.payments == "records":
        in_records = payments
    else:  # both places, two records in common
        in_user, in_records = payments[:6], payments[4:]
    if spec.payments != "records":
        user["payments"] = [_payment_json(p) for p in in_user]
    zf.write_json(f"{base}user.json", user)
    zf.write_bytes(f"{base}avatar.png", b"\x89PNG\r\n\x1a\n" + bytes(32))
    if spec.payments != "user":
        zf.write_json(f"{base}user_data_exports/discord_billing/payments.json",
                      {"records": [_payment_json(p) for p in in_records]})  # fmt: skip
    return in_user + in_records


def _allocate(plan: Plan, total: int) -> dict[str, int]:
    """Messages per channel: a quarter in the big channel, the rest by weight (>= 1 each)."""
    big = total // 4
    others = [c for c in plan.channels if c.id != plan.big_channel and c.weight > 0]
    rest = total - big - len(others)
    weight_sum = sum(c.weight for c in others)
    counts = {c.id: 1 + rest * c.weight // weight_sum for c in others}
    leftover = total - big - sum(counts.values())
    for c in others[:leftover]:
        counts[c.id] += 1
    counts[plan.big_channel] = big + (total - big - sum(counts.values()))
    for c in plan.channels:
        counts.setdefault(c.id, 0)
    return counts


def _channel_json(ch: Channel, type_as_name: bool) -> dict[str, object]:
    type_value: object = ch.type_code
    if type_as_name and ch.type_code in TYPE_NAMES:
        type_value = TYPE_NAMES[ch.type_code]
    data: dict[str, object] = {"id": ch.id, "type": type_value}
    if ch.name is not None:
        data["name"] = ch.name
    if ch.guild is not None:
        guild: dict[str, object] = {"id": ch.guild.id}
        if ch.guild.name is not None:
            guild["name"] = ch.guild.name
        data["guild"] = guild
    if ch.recipients is not None:
        data["recipients"] = list(ch.recipients)
    return data


def _write_messages(
    zf: PackageZip,
    base: str,
    plan: Plan,
    spec: VariantSpec,
    options: GenOptions,
    progress: Progress | None,
) -> tuple[dict[str, ChannelStats], dict[str, object]]:
    counts = _allocate(plan, options.messages)
    index = {c.id: c.index_name for c in plan.channels}
    if spec.faults:
        index[plan.orphan_folder] = "Unknown channel"
    zf.write_json(f"{base}index.json", dict(sorted(index.items())))
    rng = random.Random(f"cordvault-messages:{options.seed}")
    writer = MessageWriter(
        ContentPool(random.Random(f"cordvault-pool:{options.seed}")),
        rng,
        realistic=options.profile == "realistic",
    )
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress("messages", done, options.messages)

    stats: dict[str, ChannelStats] = {}
    files = {"message_files_json": 0, "message_files_csv": 0, "channels_without_metadata": 0}
    faulty = next(c.id for c in plan.channels if c.kind == "guild" and c.id != plan.big_channel)
    for i, ch in enumerate(plan.channels):
        fmt: FileFormat = "json"
        if spec.message_format == "csv" or (spec.message_format == "mixed" and i % 2):
            fmt = "csv"
        type_as_name = spec.type_style == "name" or (spec.type_style == "mixed" and i // 2 % 2 == 0)
        folder = f"{base}{spec.channel_prefix}{ch.id}/"
        zf.write_json(f"{folder}channel.json", _channel_json(ch, type_as_name))
        malformed = 2 if spec.faults and ch.id == faulty else 0
        with zf.stream(f"{folder}messages.{fmt}") as out:
            stats[ch.id] = writer.write(out, ch, counts[ch.id], fmt, malformed, tick)
        files[f"message_files_{fmt}"] += 1
    if spec.faults:
        # A folder without channel.json: skipped by the reader, counted in the meta only.
        ghost = Channel(plan.orphan_folder, 0, "other", None, None, None, None, 1,
                        spec.start, spec.end)  # fmt: skip
        ghost_fmt: FileFormat = "csv" if spec.message_format == "csv" else "json"
        with zf.stream(f"{base}{spec.channel_prefix}{ghost.id}/messages.{ghost_fmt}") as out:
            writer.write(out, ghost, 5, ghost_fmt)
        files["channels_without_metadata"] = 1
    return stats, dict(files)


def _write_servers(zf: PackageZip, base: str, plan: Plan) -> None:
    joined = [g for g in plan.guilds if g.joined]
    zf.write_json(f"{base}index.json", {g.id: g.name for g in joined})
    for g in joined:
        zf.write_json(f"{base}{g.id}/guild.json", {"id": g.id, "name": g.name})
        zf.write_json(f"{base}{g.id}/audit-log.json", [])


def _write_activity(
    zf: PackageZip,
    base: str,
    spec: VariantSpec,
    analytics: AnalyticsLines | None,
    progress: Progress | None,
) -> int:
    """Analytics shards (+ reporting/ copies); returns the number of analytics files."""
    year = spec.export_year
    files = 0
    if spec.analytics == "empty":
        zf.write_bytes(f"{base}analytics/events-{year}-00000-of-00001.json", b"")
        files = 1
    if analytics is None:
        return files
    lines = analytics.lines()
    copies: list[str] = []
    if spec.analytics != "events":
        copies = list(lines)  # opted out / empty: only reporting/ holds lines
    else:
        files = spec.shards
        total = analytics.total
        done = 0
        for k in range(files):
            size = (k + 1) * total // files - k * total // files
            name = f"{base}analytics/events-{year}-{k:05d}-of-{files:05d}.json"
            with zf.stream(name) as out:
                batch: list[str] = []
                for _ in range(size):
                    line = next(lines)
                    if len(copies) < REPORTING_COPIES:
                        copies.append(line)
                    batch.append(line)
                    if len(batch) >= _BATCH:
                        out.write("".join(batch).encode())
                        done += len(batch)
                        batch.clear()
                        if progress is not None:
                            progress("analytics", done, total)
                out.write("".join(batch).encode())
                done += len(batch)
        if progress is not None:
            progress("analytics", done, total)
    # Copies of analytics lines, as Discord writes them: a reader must not count them.
    zf.write_bytes(f"{base}reporting/events-{year}-00000-of-00001.json", "".join(copies).encode())
    return files
