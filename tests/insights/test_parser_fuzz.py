"""Fuzzing the parsers: whatever the bytes, the result is data or a CordvaultError."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cordvault.core.errors import CordvaultError
from cordvault.core.settings import Settings
from cordvault.insights.analyze import analyze_package
from cordvault.insights.package.account import parse_account
from cordvault.insights.package.analytics import AnalyticsPartial, scan_lines
from cordvault.insights.package.channels import parse_channel, parse_index
from cordvault.insights.package.messages import iter_csv_messages, normalise_timestamp

EVENTS = ["guild_joined", "add_reaction", "session_start", "join_voice_channel", "email_opened"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_analytics_scan_never_crashes_on_bytes(data: bytes) -> None:
    part = AnalyticsPartial()
    scan_lines(part, data)
    assert part.lines >= part.events >= 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(EVENTS),
            st.dictionaries(
                st.sampled_from(
                    ["timestamp", "guild_id", "channel_id", "emoji_name", "os", "emoji_id"]
                ),
                json_values,
                max_size=5,
            ),
        ),
        max_size=20,
    )
)
def test_analytics_scan_never_crashes_on_odd_fields(
    lines: list[tuple[str, dict[str, object]]],
) -> None:
    buf = b"".join(orjson.dumps({"event_type": e, **f}) + b"\n" for e, f in lines)
    part = AnalyticsPartial()
    scan_lines(part, buf)
    assert part.events == len(lines)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_metadata_parsers_never_crash(value: object) -> None:
    raw = orjson.dumps(value)
    parse_channel("1", raw)
    parse_index(raw)
    with contextlib.suppress(CordvaultError):
        parse_account(raw, raw)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
@example("+00:00")  # shorter than the UTC shape but ends like it (was an IndexError)
@example("2023-01-01 00:00:0+00:00")
def test_timestamp_normaliser_never_crashes(text: str) -> None:
    result = normalise_timestamp(text)
    assert result is None or len(result) == 19


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_csv_reader_never_crashes(body: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m.csv", "ID,Timestamp,Contents,Attachments\n" + body)
    with zipfile.ZipFile(buf) as zf:
        for batch in iter_csv_messages(zf, "m.csv", True):
            assert len(batch.timestamps) == len(batch.contents)


def _small_package() -> bytes:
    buf = io.BytesIO()
    user = {"id": "100", "username": "me", "discriminator": "0", "relationships": []}
    channel = {"id": "5", "type": 0, "name": "general", "guild": {"id": "9", "name": "G"}}
    messages = [{"ID": 1, "Timestamp": "2023-01-01 10:00:00", "Contents": "hi", "Attachments": ""}]
    events = b"".join(
        orjson.dumps({"event_type": "email_opened", "timestamp": '"2023-01-01T10:00:00Z"'}) + b"\n"
        for _ in range(20)
    )
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Account/user.json", orjson.dumps(user))
        zf.writestr("Messages/index.json", b'{"5": "general in G"}')
        zf.writestr("Messages/c5/channel.json", orjson.dumps(channel))
        zf.writestr("Messages/c5/messages.json", orjson.dumps(messages))
        zf.writestr("Servers/index.json", b'{"9": "G"}')
        zf.writestr("Servers/9/guild.json", b'{"id": "9"}')
        zf.writestr("Activity/analytics/events-2023-00000-of-00001.json", events)
    return buf.getvalue()


@pytest.fixture(scope="module")
def small_package() -> bytes:
    return _small_package()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_packages_give_clear_errors(
    tmp_path: Path, small_package: bytes, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(small_package)
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    out = tmp_path / "out.sqlite"
    try:
        analyze_package(path, out, settings=Settings(data_dir=tmp_path, analyze_workers=1))
    except CordvaultError:
        assert not out.exists() or out.stat().st_size > 0


def _partial_state(part: AnalyticsPartial) -> tuple[object, ...]:
    return (
        part.lines,
        part.events,
        part.malformed,
        dict(part.per_day),
        dict(part.guild_joined),
        dict(part.app_commands),
        dict(part.reactions),
        set(part.custom_reactions),
        dict(part.app_opened),
        sorted(part.voice, key=repr),
        sorted(part.sessions, key=repr),
    )


FIELD_VALUES = (
    st.sampled_from(["ios", "7", "123456789012345678", "null", "", "-1", "x\u00e9"])
    | st.integers(-(2**63), 2**64 - 1)
    | json_values
)
TIMESTAMPS = st.sampled_from(
    [
        '"2023-06-01T12:34:56.789Z"',
        '"2023-06-01T1\u00b2:34:56.789Z"',  # a digit int() refuses
        '"2023-13-45T10:00:00.000Z"',
        "2023-06-01T12:34:56Z",
        '"2023-06-01T12:34:56+02:00"',
        "1685622896000",
        '"null"',
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*EVENTS, "app_opened", "application_command_used", "session_end"]),
            st.dictionaries(
                st.sampled_from(["guild_id", "channel_id", "emoji_name", "os", "application_id"]),
                FIELD_VALUES,
                max_size=4,
            ),
            TIMESTAMPS | json_values,
        ),
        min_size=1,
        max_size=15,
    ),
    st.sampled_from([b"", b'{"event_type":"app_opened",\n', b'{"event_type":"guild_joined"},{}\n']),
)
def test_block_and_line_by_line_paths_count_alike(
    lines: list[tuple[str, dict[str, object], object]], bad: bytes
) -> None:
    """A block decoded at once counts exactly what its lines count one at a time (each
    good line alone takes the block path; a bad line sends its whole block line by line)."""
    encoded = [orjson.dumps({"event_type": e, **f, "timestamp": ts}) + b"\n" for e, f, ts in lines]
    together = AnalyticsPartial()
    scan_lines(together, b"".join(encoded) + bad)
    alone = AnalyticsPartial()
    for line in [*encoded, bad]:
        scan_lines(alone, line)
    assert _partial_state(together) == _partial_state(alone)
    assert together.events == len(lines) + (1 if bad else 0)
