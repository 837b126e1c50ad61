"""The synthetic package generator: determinism, layouts, and expected values vs. the zip.

The zips are re-read here with plain ``zipfile`` / ``json`` / ``csv`` readers (never the
package parser) and what they hold is checked against the generator's expected.json.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cordvault.cli.app import build_app
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.generator import VARIANTS, GenOptions, generate_package
from cordvault.insights.generator.contents import load_lexicon
from cordvault.insights.generator.expected import classify
from cordvault.insights.generator.options import Profile
from cordvault.insights.generator.pairing import app_sessions, voice_sessions
from cordvault.insights.generator.plan import build_plan
from cordvault.insights.generator.scenarios import TimedEvent
from cordvault.insights.output.sqlite_schema import COLUMNS, SCHEMA_VERSION, TABLES

SMALL = {"messages": 400, "events": 1500}
STRIP = '.,!?;:"()[]{}*_~'


def _make(tmp_path: Path, variant: str, seed: int = 7, **kw: int) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / f"{variant}-{seed}.zip"
    exp = tmp_path / f"{variant}-{seed}.expected.json"
    options = GenOptions(variant=variant, seed=seed, **{**SMALL, **kw})
    generate_package(out, options, exp)
    return out, json.loads(exp.read_text("utf-8"))


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("packages")
    return {v: _make(base, v) for v in VARIANTS}


def _stamp(text: str) -> int | None:
    """Unix seconds of a message timestamp, None when unreadable."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return math.floor(dt.timestamp())


def _read_messages(zf: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    if name.endswith(".json"):
        return list(json.loads(zf.read(name)))
    with zf.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, "utf-8", newline="")))


def _channels(zf: zipfile.ZipFile) -> dict[str, tuple[dict[str, Any], str]]:
    """channel id -> (channel.json, message file name)."""
    names = set(zf.namelist())
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for name in sorted(names):
        if name.endswith("/channel.json"):
            folder = name.removesuffix("channel.json")
            msg = next(folder + f for f in ("messages.json", "messages.csv") if folder + f in names)
            data = json.loads(zf.read(name))
            out[data["id"]] = (data, msg)
    return out


def _rows(expected: dict[str, Any], table: str) -> list[list[Any]]:
    return list(expected["tables"][table])


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    za, _ = _make(a, "mixed", seed=3)
    zb, _ = _make(b, "mixed", seed=3)
    zc, _ = _make(c, "mixed", seed=4)
    assert za.read_bytes() == zb.read_bytes()
    assert (a / "mixed-3.expected.json").read_bytes() == (b / "mixed-3.expected.json").read_bytes()
    assert za.read_bytes() != zc.read_bytes()
    assert (a / "mixed-3.expected.json").read_bytes() != (c / "mixed-4.expected.json").read_bytes()


# -- layouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layout_features(packages: dict[str, tuple[Path, dict[str, Any]]], variant: str) -> None:
    spec = VARIANTS[variant]
    path, expected = packages[variant]
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        tops = {n.split("/")[0] for n in names}
        if spec.top_folder:
            assert tops == {spec.top_folder.rstrip("/")}
            names = [n.removeprefix(spec.top_folder) for n in names]
            tops = {n.split("/")[0] for n in names}
        present = {spec.folders[s] for s in spec.sections}
        assert tops == present | {"README.txt"}
        messages = [n for n in names if n.endswith(("messages.json", "messages.csv"))]
        folders = {n.split("/")[1] for n in messages}
        if spec.channel_prefix:
            assert all(f.startswith("c") and f[1:].isdigit() for f in folders)
        else:
            assert all(f.isdigit() for f in folders)
        kinds = {n.rsplit(".", 1)[1] for n in messages}
        assert (
            kinds
            == {"json": {"json"}, "csv": {"csv"}, "mixed": {"json", "csv"}}[spec.message_format]
        )
        shards = [n for n in names if "/analytics/" in n]
        assert (
            len(shards)
            == expected["meta"]["analytics_files"]
            == (spec.shards if spec.analytics == "events" else int(spec.analytics == "empty"))
        )
        if spec.analytics == "empty":
            assert all(zf.getinfo(spec.top_folder + n).file_size == 0 for n in shards)
        reporting = [n for n in names if "/reporting/" in n]
        assert len(reporting) == (1 if spec.has("activity") else 0)
        if spec.has("account"):
            user = json.loads(zf.read(spec.top_folder + spec.folders["account"] + "/user.json"))
            records = any(n.endswith("discord_billing/payments.json") for n in names)
            assert records == (spec.payments != "user")
            assert ("payments" in user) == (spec.payments != "records")
        types = set()
        for data, _ in _channels(zf).values():
            types.add(type(data["type"]))
        want = {"name": {str, int}, "int": {int}, "mixed": {str, int}}[spec.type_style]
        assert types == want  # unknown types 17/18 stay ints in every style
    sections = sorted(s for s in spec.sections if s != "activity" or shards)
    assert expected["meta"]["sections"] == sections
    assert expected["error"] == (None if spec.has("account") else "MISSING_USER_DATA")


def test_translated_folder_names(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    with zipfile.ZipFile(packages["translated-fr"][0]) as zf:
        tops = {n.split("/")[0] for n in zf.namelist()}
    assert {"Compte", "Activité", "Messages", "Serveurs"} <= tops


# -- expected vs. the zip -------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_message_counts_match_files(
    packages: dict[str, tuple[Path, dict[str, Any]]], variant: str
) -> None:
    path, expected = packages[variant]
    counts: dict[str, int] = {}
    hours: Counter[tuple[str, str, int]] = Counter()
    malformed = 0
    times: list[int] = []
    files = Counter[str]()
    with zipfile.ZipFile(path) as zf:
        for cid, (_data, name) in _channels(zf).items():
            files[name.rsplit(".", 1)[1]] += 1
            good = 0
            for msg in _read_messages(zf, name):
                t = _stamp(msg["Timestamp"])
                if t is None:
                    malformed += 1
                    continue
                good += 1
                times.append(t)
                dt = datetime.fromtimestamp(t, UTC)
                hours[(cid, dt.date().isoformat(), dt.hour)] += 1
            counts[cid] = good
    meta = expected["meta"]
    assert meta["messages_total"] == sum(counts.values()) == SMALL["messages"]
    assert max(counts.values()) >= SMALL["messages"] // 4  # one big channel for streaming
    assert 0 in counts.values()  # and an empty one
    assert meta["malformed_messages"] == malformed
    assert meta["message_files_json"] == files["json"]
    assert meta["message_files_csv"] == files["csv"]
    assert meta["first_message_at"] == min(times)
    assert meta["last_message_at"] == max(times)
    if expected["error"]:
        assert all(_rows(expected, t) == [] for t in expected["tables"])
        return
    sent = {(r[5], r[1], r[2]): r[3] for r in _rows(expected, "activity") if r[0] == "message_sent"}
    assert sent == dict(hours)
    for table in ("dm_channels_data", "group_dm_channels_data", "guild_channels_data"):
        count_col = COLUMNS[table].index("total_message_count")
        for row in _rows(expected, table):
            assert row[count_col] == counts[row[0]], (table, row)
    guild_total = sum(r[2] for r in _rows(expected, "guilds"))
    assert guild_total == sum(r[3] for r in _rows(expected, "guild_channels_data"))


def test_expected_json_shape(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    _path, expected = packages["modern"]
    assert expected["format"] == 1
    assert set(expected["tables"]) == set(TABLES) - {"cordvault_meta"}
    for table, rows in expected["tables"].items():
        assert all(len(r) == len(COLUMNS[table]) for r in rows), table
    for key in ("sections", "analytics_files", "analytics_events", "analytics_lines_skipped",
                "malformed_lines", "message_files_json", "message_files_csv", "messages_total",
                "malformed_messages", "first_message_at", "last_message_at"):  # fmt: skip
        assert key in expected["meta"]
    (pkg,) = expected["tables"]["package_data"]
    assert pkg[:2] == ["local", SCHEMA_VERSION]
    assert pkg[-1] == 0
    for row in expected["tables"]["voice_sessions"] + expected["tables"]["sessions"]:
        dates = row[3:5] if len(row) == 5 else row[0:2]
        assert all(isinstance(d, str) and len(d) == 10 and d.isdigit() for d in dates)


def test_sentiment_matches_a_recount(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    lexicon = load_lexicon()
    path, expected = packages["legacy-csv"]
    with zipfile.ZipFile(path) as zf:
        channels = _channels(zf)
        for row in _rows(expected, "dm_channels_data"):
            scores = []
            for msg in _read_messages(zf, channels[row[0]][1]):
                if _stamp(msg["Timestamp"]) is None:
                    continue
                s = sum(lexicon.get(w.strip(STRIP), 0.0) for w in msg["Contents"].lower().split())
                if s != 0:
                    scores.append(s / math.sqrt(s * s + 15))
            mean = round(sum(scores) / len(scores), 4) if scores else 0.0
            assert row[7] == pytest.approx(mean, abs=1e-4)
    assert any(r[7] != 0 for r in _rows(expected, "dm_channels_data"))


def test_ids_beyond_2_53_are_exact(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    for variant in ("modern", "legacy-csv"):
        path, expected = packages[variant]
        samples = expected["samples"]["first_message_ids"]
        with zipfile.ZipFile(path) as zf:
            for cid, (_data, name) in _channels(zf).items():
                if cid not in samples:
                    continue
                raw = zf.read(name).decode()
                first = next(m for m in _read_messages(zf, name) if _stamp(m["Timestamp"]))
                assert int(first["ID"]) == int(samples[cid]) > 2**53
                assert samples[cid] in raw
                # The id encodes its message's time: a float-rounded id would not.
                ms = (int(first["ID"]) >> 22) + 1_420_070_400_000
                assert ms // 1000 == _stamp(first["Timestamp"])


# -- analytics ------------------------------------------------------------------------------


def _analytics_lines(zf: zipfile.ZipFile, folder: str) -> list[str]:
    lines: list[str] = []
    for name in sorted(n for n in zf.namelist() if f"/{folder}/" in n):
        lines += zf.read(name).decode().splitlines()
    return lines


def _unquote(value: str) -> int:
    return math.floor(datetime.fromisoformat(value.strip('"').replace("Z", "+00:00")).timestamp())


def test_analytics_format_and_tallies(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    path, expected = packages["modern"]
    with zipfile.ZipFile(path) as zf:
        lines = _analytics_lines(zf, "analytics")
        reporting = _analytics_lines(zf, "reporting")
    assert len(lines) == SMALL["events"]
    assert reporting
    assert set(reporting) <= set(lines)
    events = [json.loads(line) for line in lines]
    typed = [e for e in events if "event_type" in e]
    assert all(line.startswith('{"event_type":"') for line, e in zip(lines, events, strict=True)
               if "event_type" in e)  # fmt: skip
    meta = expected["meta"]
    assert meta["analytics_events"] == len(typed)
    assert meta["analytics_lines_skipped"] == len(events) - len(typed) > 0
    assert all('"timestamp":"\\"' in line for line in lines)
    assert any(e.get("client_track_timestamp") == "null" for e in events)
    assert sum(len(line) for line in lines) / len(lines) > 500
    names = Counter(e["event_type"] for e in typed)
    assert names["app_native_crash"]
    assert names["session_start"]
    assert names["join_voice_channel"]

    # Per-day counters, recounted from the lines.
    plain = Counter[tuple[str, str]]()
    opened = Counter[tuple[str, str]]()
    reactions = Counter[tuple[str, str, str]]()
    custom: dict[tuple[str, str, str], str] = defaultdict(lambda: "0")
    counted = {r[0] for r in _rows(expected, "activity")} - {"message_sent"}
    for e in typed:
        t = _unquote(e["timestamp"])
        day = datetime.fromtimestamp(t, UTC).date().isoformat()
        name = "app_crashed" if e["event_type"] == "app_native_crash" else e["event_type"]
        if name == "app_opened" and "os" in e:
            opened[(day, e["os"])] += 1
        elif name == "add_reaction" and "channel_id" in e and "emoji_name" in e:
            key = (day, e["channel_id"], e["emoji_name"])
            reactions[key] += 1
            if e.get("emoji_id"):
                custom[key] = "1"
        elif name in counted and name not in ("guild_joined", "application_command_used",
                                              "app_opened", "add_reaction"):  # fmt: skip
            plain[(name, day)] += 1
    rows = _rows(expected, "activity")
    assert {(r[0], r[1]): r[3] for r in rows if r[0] in {n for n, _ in plain}} == dict(plain)
    assert {(r[1], r[7]): r[3] for r in rows if r[0] == "app_opened"} == dict(opened)
    assert {(r[1], r[5], r[7]): (r[3], r[8]) for r in rows if r[0] == "add_reaction"} == {
        k: (n, custom[k]) for k, n in reactions.items()
    }
    assert {r[8] for r in rows if r[0] == "add_reaction"} == {"0", "1"}
    assert "app_crashed" in {r[0] for r in rows}


def test_timed_events_in_the_zip_give_the_expected_sessions(
    packages: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, expected = packages["mixed"]
    with zipfile.ZipFile(path) as zf:
        lines = _analytics_lines(zf, "analytics")
    timed = []
    for line in lines:
        e = json.loads(line)
        name = e.get("event_type", "")
        if name not in ("join_voice_channel", "leave_voice_channel", "session_start",
                        "session_end"):  # fmt: skip
            continue
        ts = _unquote(e["timestamp"])
        ctt_raw = e.get("client_track_timestamp", "null")
        ctt = ts if ctt_raw == "null" else _unquote(ctt_raw)
        event = TimedEvent(name, ts, 0, ctt, 0, "value", e.get("channel_id"), e.get("guild_id"))
        timed.append(replace(event, os=e.get("os")))
    voice = [[c, g, m, str(s), str(e)] for c, g, m, s, e in voice_sessions(timed)]
    sessions = [[str(s), str(e), m, os] for s, e, m, os in app_sessions(timed)]
    assert sorted(voice, key=str) == sorted(_rows(expected, "voice_sessions"), key=str)
    assert sessions == _rows(expected, "sessions")
    # Counted per guild/hour and per day/app/guild, recounted from the lines.
    joined = Counter[tuple[str, str, int]]()
    commands = Counter[tuple[str, str, str]]()
    for line in lines:
        e = json.loads(line)
        dt = datetime.fromtimestamp(_unquote(e.get("timestamp", '"2000-01-01T00:00:00Z"')), UTC)
        if e.get("event_type") == "guild_joined" and "guild_id" in e:
            joined[(e["guild_id"], dt.date().isoformat(), dt.hour)] += 1
        app = e.get("application_id")
        is_command = e.get("event_type") == "application_command_used"
        if is_command and app not in (None, "-1") and "guild_id" in e:
            commands[(dt.date().isoformat(), app, e["guild_id"])] += 1
    rows = _rows(expected, "activity")
    assert {(r[6], r[1], r[2]): r[3] for r in rows if r[0] == "guild_joined"} == dict(joined)
    got = {(r[1], r[4], r[6]): r[3] for r in rows if r[0] == "application_command_used"}
    assert got == dict(commands)


def test_voice_and_sessions_cover_the_rules(
    packages: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    _path, expected = packages["modern"]
    voice = _rows(expected, "voice_sessions")
    assert any(r[1] is None for r in voice)
    assert any(r[1] is not None for r in voice)
    assert all(0 <= int(r[4]) - int(r[3]) <= 86_400 for r in voice)
    assert len({(r[0], r[3]) for r in voice}) == len(voice)  # the table's primary key
    dm_voice = [r for r in _rows(expected, "dm_channels_data") if r[6] > 0]
    assert dm_voice
    sessions = _rows(expected, "sessions")
    assert sessions
    assert all(int(r[1]) - int(r[0]) <= 86_400 for r in sessions)


def test_classification_and_names(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    plan = build_plan(7, VARIANTS["modern"])
    assert all(classify(c)[1] == c.kind for c in plan.channels)
    _path, expected = packages["modern"]
    names = {r[2] for r in _rows(expected, "dm_channels_data")}
    assert {"Deleted User", "Unknown Participant", "stranger", "oldtimer#4821", "bob#1234"} <= names
    guilds = {r[1] for r in _rows(expected, "guilds")}
    assert {"Café ☕ Lounge", "Gone Guild", "Unknown server", "Quiet Place"} <= guilds
    _path, no_servers = packages["partial-no-servers"]
    guilds = {r[1] for r in _rows(no_servers, "guilds")}
    assert "Café Lounge" in guilds
    assert "Quiet Place" not in guilds
    assert no_servers["tables"]["package_data"][0][-1] == 1


def test_payments_follow_the_rules(packages: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    for variant in ("modern", "legacy-csv", "mixed"):
        _path, expected = packages[variant]
        rows = _rows(expected, "payments")
        assert len(rows) == 3
        assert all(r[3] == r[3].lower() and r[3] != "discord_orb" for r in rows)
        assert "" in {r[4] for r in rows}


# -- options and CLI ------------------------------------------------------------------------


def test_bad_options_are_rejected(tmp_path: Path) -> None:
    for options in (GenOptions(variant="nope"), GenOptions(messages=3),
                    GenOptions(compress_level=12), GenOptions(events=10),
                    GenOptions(profile="bursty")):  # type: ignore[arg-type]  # fmt: skip
        with pytest.raises(CordvaultError) as info:
            generate_package(tmp_path / "x.zip", options)
        assert info.value.code == ErrorCode.INVALID_INPUT
    assert not (tmp_path / "x.zip").exists()


def test_cli_gen_package(tmp_path: Path) -> None:
    out = tmp_path / "pkg.zip"
    result = CliRunner().invoke(
        build_app(),
        [
            "dev",
            "gen-package",
            str(out),
            "--variant",
            "legacy-no-prefix",
            "--seed",
            "5",
            "--messages",
            "300",
            "--events",
            "800",
            "--compress-level",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = json.loads((tmp_path / "pkg.expected.json").read_text("utf-8"))
    assert expected["variant"] == "legacy-no-prefix"
    assert expected["options"]["seed"] == 5
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert any(n.startswith("messages/") and n.endswith(".csv") for n in zf.namelist())


def test_realistic_profile_is_heavy_tailed_and_bursty(tmp_path: Path) -> None:
    """The realistic profile adds Zipf-sized channels and packs messages into conversations:
    far fewer (channel, hour) buckets per message than the uniform profile, evening-heavy."""
    rows: dict[str, list[list[Any]]] = {}
    profiles: tuple[Profile, ...] = ("uniform", "realistic")
    for profile in profiles:
        expected = generate_package(
            tmp_path / f"{profile}.zip",
            GenOptions(seed=3, messages=20_000, events=3000, profile=profile),
        )
        rows[profile] = [r for r in expected.rows("activity") if r[0] == "message_sent"]
    uniform, realistic = rows["uniform"], rows["realistic"]
    assert len({r[5] for r in realistic}) > 2 * len({r[5] for r in uniform})  # channels
    assert len(realistic) < len(uniform) / 2  # messages share their hours
    by_hour = [0] * 24
    for r in realistic:
        by_hour[r[2]] += r[3]
    assert sum(by_hour[18:22]) > 3 * sum(by_hour[2:6])
