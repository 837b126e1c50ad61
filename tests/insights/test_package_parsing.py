"""Parsers on hand-built zips: the tricky corners each reader must get right."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.aggregate.pairing import pair_sessions, pair_voice
from cordvault.insights.package.analytics import AnalyticsPartial, scan_lines, scan_shard
from cordvault.insights.package.channels import ChannelKind, dm_index_name, parse_channel
from cordvault.insights.package.layout import detect_layout
from cordvault.insights.package.messages import (
    iter_csv_messages,
    iter_json_messages,
    normalise_timestamp,
)
from cordvault.insights.package.zipsource import PackageLimits, list_entries, open_zip


def _zip(tmp_path: Path, files: dict[str, bytes], name: str = "p.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in files.items():
            zf.writestr(entry, data)
    return path


# -- messages.json ---------------------------------------------------------------------------

TRICKY = [
    "plain",
    'ends with brace }, {"',
    '}, {"ID": 1, "Timestamp": "fake"}',
    'quote " and backslash \\ and newline \n inside',
    "emoji 😀 and ünïcödé",
    "",
]


def _messages_json(n: int, pretty: bool = False) -> bytes:
    msgs = [
        {
            "ID": 1_200_000_000_000_000_000 + i,
            "Timestamp": f"2023-0{1 + i % 9}-1{i % 10} {i % 24:02d}:00:00",
            "Contents": TRICKY[i % len(TRICKY)],
            "Attachments": "",
        }
        for i in range(n)
    ]
    return orjson.dumps(msgs, option=orjson.OPT_INDENT_2 if pretty else 0)


@pytest.mark.parametrize("pretty", [False, True])
@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_json_batches_match_a_plain_parse(tmp_path: Path, pretty: bool, block: int) -> None:
    data = _messages_json(300, pretty)
    zf = zipfile.ZipFile(_zip(tmp_path, {"m.json": data}))
    stamps: list[str] = []
    contents: list[str] = []
    malformed = 0
    for batch in iter_json_messages(zf, "m.json", True, block):
        stamps += batch.timestamps
        contents += batch.contents
        malformed += batch.malformed
    expected = orjson.loads(data)
    assert malformed == 0
    assert stamps == [m["Timestamp"] for m in expected]
    assert contents == [m["Contents"] for m in expected]


@pytest.mark.parametrize("data", [b"", b"[]", b"  [ ]  "])
def test_empty_json_files_have_no_messages(tmp_path: Path, data: bytes) -> None:
    zf = zipfile.ZipFile(_zip(tmp_path, {"m.json": data}))
    batches = list(iter_json_messages(zf, "m.json", False))
    assert sum(len(b.timestamps) for b in batches) == 0
    assert sum(b.malformed for b in batches) == 0


@pytest.mark.parametrize("data", [b"{not json", b'[{"ID": 1, "Timestamp": "2023-01-01 00:00:00"'])
def test_broken_json_files_count_as_malformed(tmp_path: Path, data: bytes) -> None:
    zf = zipfile.ZipFile(_zip(tmp_path, {"m.json": data}))
    batches = list(iter_json_messages(zf, "m.json", False))
    assert sum(b.malformed for b in batches) >= 1
    assert sum(len(b.timestamps) for b in batches) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=30), st.integers(3, 200))
def test_json_batches_survive_any_contents(contents: list[str], block: int) -> None:
    msgs = [
        {"ID": i, "Timestamp": "2024-05-06 07:08:09", "Contents": c, "Attachments": ""}
        for i, c in enumerate(contents)
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m.json", orjson.dumps(msgs))
    with zipfile.ZipFile(buf) as zf:
        got = [c for b in iter_json_messages(zf, "m.json", True, block) for c in b.contents]
    assert got == contents


# -- messages.csv ----------------------------------------------------------------------------


def test_csv_quoting_offsets_and_malformed_rows(tmp_path: Path) -> None:
    csv_text = (
        "ID,Timestamp,Contents,Attachments\r\n"
        '1,2020-08-25 22:54:05.726000+00:00,"a, b ""quoted""\nnext line",\r\n'
        "2,2020-08-25 22:54:05+00:00,plain,\r\n"
        "3,2020-08-25 23:30:00+02:00,offset,\r\n"
        "4,not a time,broken,\r\n"
        "5,2021-01-01 00:00:00,no offset,\r\n"
    )
    zf = zipfile.ZipFile(_zip(tmp_path, {"m.csv": csv_text.encode()}))
    batches = list(iter_csv_messages(zf, "m.csv", True))
    stamps = [t for b in batches for t in b.timestamps]
    contents = [c for b in batches for c in b.contents]
    assert stamps == [
        "2020-08-25 22:54:05",
        "2020-08-25 22:54:05",
        "2020-08-25 21:30:00",  # +02:00 converted to UTC
        "2021-01-01 00:00:00",
    ]
    assert contents[0] == 'a, b "quoted"\nnext line'
    assert sum(b.malformed for b in batches) == 1


def test_timestamp_normalisation() -> None:
    assert normalise_timestamp("2023-01-02 03:04:05") == "2023-01-02 03:04:05"
    assert normalise_timestamp("2023-01-02 03:04:05.1+00:00") == "2023-01-02 03:04:05"
    assert normalise_timestamp("2023-01-02T03:04:05Z") == "2023-01-02 03:04:05"
    assert normalise_timestamp("2023-01-02 01:04:05-02:00") == "2023-01-02 03:04:05"
    assert normalise_timestamp("yesterday") is None
    assert normalise_timestamp(12) is None


# -- analytics ---------------------------------------------------------------------------------


def _line(event: str | None, **fields: object) -> bytes:
    obj: dict[str, object] = {} if event is None else {"event_type": event}
    obj.update(fields)
    return orjson.dumps(obj) + b"\n"


def _ts(iso: str) -> str:
    return f'"{iso}"'


def test_analytics_counts_and_skips(tmp_path: Path) -> None:
    lines = b"".join(
        [
            _line("email_opened", timestamp=_ts("2023-06-01T12:34:56.789Z"), city="x"),
            _line("app_native_crash", timestamp=_ts("2023-06-01T23:00:00.000Z")),
            _line("app_crashed", timestamp=_ts("2023-06-02T00:10:00Z")),
            _line("irrelevant_event", timestamp=_ts("2023-06-01T12:00:00Z")),
            _line(None, predicted_gender="x"),
            _line("guild_joined", guild_id="42", timestamp=_ts("2023-06-01T05:06:07Z")),
            _line("guild_joined", timestamp=_ts("2023-06-01T05:06:07Z")),  # no guild: skipped
            _line(
                "add_reaction",
                channel_id="7",
                emoji_name="👍",
                timestamp=_ts("2023-06-01T01:00:00Z"),
            ),
            _line(
                "add_reaction",
                channel_id="7",
                emoji_name="👍",
                emoji_id="99",
                timestamp=_ts("2023-06-01T02:00:00Z"),
            ),
            _line(
                "application_command_used",
                application_id="-1",
                guild_id="1",
                timestamp=_ts("2023-06-01T01:00:00Z"),
            ),
            _line(
                "application_command_used",
                application_id="5",
                guild_id="1",
                timestamp=_ts("2023-06-01T01:00:00Z"),
            ),
            _line(
                "application_command_used",
                application_id="5",
                timestamp=_ts("2023-06-01T01:00:00Z"),
            ),
            _line("app_opened", os="Linux", timestamp=_ts("2023-06-01T01:00:00Z")),
            _line("app_opened", timestamp=_ts("2023-06-01T01:00:00Z")),
            b'{"event_type":"login_successful","timestamp":"broken\n',
            _line(
                "join_voice_channel",
                channel_id="9",
                guild_id="1",
                client_track_timestamp="null",
                timestamp=_ts("2023-06-01T10:00:00Z"),
            ),
            _line(
                "leave_voice_channel",
                channel_id="9",
                client_track_timestamp=_ts("2023-06-01T10:30:59Z"),
                timestamp=_ts("2023-06-01T11:00:00Z"),
            ),
            _line("session_start", os="Windows", timestamp=_ts("2023-06-01T10:00:00Z")),
            _line("session_end", timestamp=_ts("2023-06-01T10:00:00Z")),  # no os: ignored
        ]
    )
    zf = zipfile.ZipFile(_zip(tmp_path, {"activity/analytics/events.json": lines}))
    part = scan_shard(zf, "activity/analytics/events.json")
    assert part.lines == 19
    assert part.events == 18
    assert part.skipped == 1
    assert part.malformed == 1
    assert part.per_day == {
        ("email_opened", "2023-06-01"): 1,
        ("app_crashed", "2023-06-01"): 1,
        ("app_crashed", "2023-06-02"): 1,
    }
    assert part.guild_joined == {("42", "2023-06-01", 5): 1}
    assert part.reactions == {("2023-06-01", "7", "👍"): 2}
    assert part.custom_reactions == {("2023-06-01", "7", "👍")}
    assert part.app_commands == {("2023-06-01", "5", "1"): 1}
    assert part.app_opened == {("2023-06-01", "Linux"): 1}
    start = 1685613600  # 2023-06-01T10:00:00Z
    assert part.voice == [("9", "1", 0, start), ("9", None, 1, start + 30 * 60 + 59)]
    assert part.sessions == [(start, 0, "Windows")]
    assert [s.minutes for s in pair_voice(part.voice)] == [30]


def test_analytics_merge_is_additive() -> None:
    a, b = AnalyticsPartial(), AnalyticsPartial()
    scan_lines(a, _line("email_opened", timestamp=_ts("2023-06-01T12:00:00Z")))
    scan_lines(b, _line("email_opened", timestamp=_ts("2023-06-01T13:00:00Z")))
    a.merge(b)
    assert a.per_day == {("email_opened", "2023-06-01"): 2}
    assert a.lines == 2


# -- pairing -----------------------------------------------------------------------------------


def test_voice_pairing_rules() -> None:
    h = 3600
    events = [
        ("c", "g", 0, 0),
        ("c", "g", 0, 10),  # inside the first session: dropped
        ("c", None, 1, 100),
        ("c", "g", 0, 200),  # no leave after it within 24 h
        ("c", None, 1, 200 + 25 * h),
        ("d", None, 1, 50),  # leave before any join
        ("d", None, 0, 60),
        ("d", None, 1, 60),  # zero-length session is a session
        ("e", None, 0, 5),  # join without leave
    ]
    sessions = pair_voice(events)
    assert [(s.channel_id, s.guild_id, s.start, s.end) for s in sessions] == [
        ("c", "g", 0, 100),
        ("d", None, 60, 60),
    ]


def test_session_pairing_rules() -> None:
    h = 3600
    events = [
        (0, 0, "linux"),
        (10, 0, "windows"),
        (100, 1, "linux"),  # closes both pending starts: one session from the earliest
        (200, 0, "ios"),
        (200 + 25 * h, 1, "ios"),  # start too old: dropped, no session
        (300 + 25 * h, 1, "ios"),  # end without start
        (400 + 25 * h, 0, "mac"),
        (400 + 25 * h, 1, "mac"),  # same second: start sorts before end
    ]
    assert [(s.start, s.end, s.minutes, s.os) for s in pair_sessions(events)] == [
        (0, 100, 1, "linux"),
        (400 + 25 * h, 400 + 25 * h, 0, "mac"),
    ]


def test_pairing_scales_linearly() -> None:
    # 200k overlapping starts before one end: quadratic pairing would not finish in time.
    events = [(i, 0, "x") for i in range(200_000)] + [(200_000, 1, "x")]
    assert len(pair_sessions(events)) == 1
    voice = [("c", None, 0, i) for i in range(200_000)] + [("c", None, 1, 10**6)]
    assert len(pair_voice(voice)) == 0  # every join is more than 24 h before the leave
    voice = [("c", None, 0, i) for i in range(200_000)] + [("c", None, 1, 200_000)]
    assert len(pair_voice(voice)) == 1


# -- channels and names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "type_name"),
    [
        (
            {"id": "1", "type": 0, "guild": {"id": "9", "name": "G"}},
            ChannelKind.GUILD,
            "GUILD_TEXT",
        ),
        (
            {"id": "1", "type": "PUBLIC_THREAD", "guild": {"id": "9"}},
            ChannelKind.GUILD,
            "PUBLIC_THREAD",
        ),
        ({"id": "1", "type": 1, "recipients": ["a", "b"]}, ChannelKind.DM, "DM"),
        ({"id": "1", "type": "DM", "recipients": ["a", "Deleted User"]}, ChannelKind.DM, "DM"),
        ({"id": "1", "type": 3, "recipients": ["a", "b", "c"]}, ChannelKind.GROUP_DM, "GROUP_DM"),
        ({"id": "1", "type": 17, "recipients": ["a", "b"]}, ChannelKind.DM, "UNKNOWN_17"),
        ({"id": "1", "type": 18}, ChannelKind.OTHER, "UNKNOWN_18"),
        (
            {"id": "1", "type": "GROUP_DM", "recipients": ["a", "b"]},
            ChannelKind.GROUP_DM,
            "GROUP_DM",
        ),
    ],
)
def test_channel_classification(raw: dict[str, object], kind: ChannelKind, type_name: str) -> None:
    info = parse_channel("1", orjson.dumps(raw))
    assert info is not None
    assert (info.kind, info.type_name) == (kind, type_name)


def test_dm_index_names() -> None:
    assert dm_index_name("Direct Message with bob#0") == ("bob", None)
    assert dm_index_name("Direct Message with bob#0000") == ("bob", None)
    assert dm_index_name("Direct Message with bob#1234") == ("bob#1234", "1234")
    assert dm_index_name("Direct Message with Unknown Participant") == ("Unknown Participant", None)
    assert dm_index_name("general in Server") == (None, None)
    assert dm_index_name(None) == (None, None)


# -- layout ------------------------------------------------------------------------------------

BASE = {
    "Account/user.json": b"{}",
    "Messages/index.json": b"{}",
    "Messages/c1/channel.json": b"{}",
    "Messages/c1/messages.json": b"[]",
    "Servers/index.json": b"{}",
    "Servers/9/guild.json": b"{}",
    "Activity/analytics/events-2024-00000-of-00002.json": b"",
    "Activity/analytics/events-2024-00001-of-00002.json": b"",
    "Activity/reporting/events-2024-00000-of-00001.json": b"",
}


@pytest.mark.parametrize(
    "rename",
    [
        {},
        {
            "Account": "account",
            "Messages": "messages",
            "Servers": "servers",
            "Activity": "activity",
        },
        {"Account": "Compte", "Servers": "Serveurs", "Activity": "Activité"},
        {
            "Account": "Konto",
            "Messages": "Nachrichten",
            "Servers": "Server",
            "Activity": "Aktivität",
        },
    ],
)
@pytest.mark.parametrize("top", ["", "package/"])
def test_layout_found_by_files_not_names(tmp_path: Path, rename: dict[str, str], top: str) -> None:
    files = {}
    for name, data in BASE.items():
        head, rest = name.split("/", 1)
        files[top + rename.get(head, head) + "/" + rest] = data
    zf = open_zip(_zip(tmp_path, files))
    layout = detect_layout(list_entries(zf, PackageLimits()))
    assert layout.sections == ["account", "activity", "messages", "servers"]
    assert layout.user_json is not None
    assert layout.user_json.endswith("/user.json")
    assert [c.channel_id for c in layout.channels] == ["1"]
    assert len(layout.analytics_files) == 2  # reporting/ copy not read
    assert layout.servers_index is not None
    assert layout.messages_index is not None


def test_layout_without_c_prefix_and_partial(tmp_path: Path) -> None:
    files = {"messages/123/channel.json": b"{}", "messages/123/messages.csv": b"ID\n"}
    zf = open_zip(_zip(tmp_path, files))
    layout = detect_layout(list_entries(zf, PackageLimits()))
    assert layout.sections == ["messages"]
    assert layout.channels[0].channel_id == "123"
    assert layout.channels[0].messages_kind == "csv"


# -- zip safety --------------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"hello, I am text")
    with pytest.raises(CordvaultError) as info:
        open_zip(path)
    assert info.value.code == ErrorCode.NOT_A_ZIP


def test_truncated_zip(tmp_path: Path) -> None:
    good = _zip(tmp_path, {"a.json": b"x" * 10_000})
    bad = tmp_path / "bad.zip"
    bad.write_bytes(good.read_bytes()[:-60])
    with pytest.raises(CordvaultError) as info:
        open_zip(bad)
    assert info.value.code == ErrorCode.CORRUPT_ZIP


def test_zip_bomb_ratio_and_sizes_refused_before_decompressing(tmp_path: Path) -> None:
    bomb = _zip(tmp_path, {"a.json": b"\0" * (50 * 1024 * 1024)})
    zf = open_zip(bomb)
    with pytest.raises(CordvaultError) as info:
        list_entries(zf, PackageLimits())
    assert info.value.code == ErrorCode.PACKAGE_TOO_LARGE
    with pytest.raises(CordvaultError):
        list_entries(zf, PackageLimits(max_entry_bytes=1024, max_ratio=1e9))
    with pytest.raises(CordvaultError):
        list_entries(zf, PackageLimits(max_total_bytes=1024, max_ratio=1e9))
    assert len(list_entries(zf, PackageLimits(max_ratio=1e9))) == 1


def test_crc_corruption_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.json", b"A" * 1000)
    data = bytearray(path.read_bytes())
    data[data.index(b"AAAA") + 10] = ord("B")
    path.write_bytes(bytes(data))
    from cordvault.insights.package.zipsource import iter_blocks

    with pytest.raises(CordvaultError) as info, zipfile.ZipFile(path) as zf:
        list(iter_blocks(zf, "a.json"))
    assert info.value.code == ErrorCode.CORRUPT_ZIP


def test_unsafe_names_are_ignored(tmp_path: Path) -> None:
    zf = open_zip(_zip(tmp_path, {"../evil/user.json": b"{}", "/abs/user.json": b"{}"}))
    assert list_entries(zf, PackageLimits()) == []


def test_entry_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    """A header that understates the uncompressed size (a disguised bomb) never yields more."""
    from cordvault.insights.package.zipsource import iter_blocks

    payload = b"A" * 2_000_000
    path = _zip(tmp_path, {"a.json": payload})
    data = bytearray(path.read_bytes())
    real = len(payload).to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    assert data.count(real) == 2  # local header and central directory
    path.write_bytes(bytes(data).replace(real, fake))
    received: list[int] = []

    def read_all() -> None:
        with zipfile.ZipFile(path) as zf:
            received.extend(len(block) for block in iter_blocks(zf, "a.json"))

    with pytest.raises(CordvaultError) as info:
        read_all()
    assert info.value.code == ErrorCode.CORRUPT_ZIP
    assert sum(received) <= 1000  # nothing past the declared size was ever handed out


def test_stored_and_deflated_entries_read_the_same(tmp_path: Path) -> None:
    from cordvault.insights.package.zipsource import iter_blocks

    payload = bytes(range(256)) * 50_000
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("stored.bin", payload, compress_type=zipfile.ZIP_STORED)
        zf.writestr("deflated.bin", payload, compress_type=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as zf:
        for name in ("stored.bin", "deflated.bin"):
            assert b"".join(iter_blocks(zf, name, block=65536)) == payload


def test_escaped_or_invalid_fields_fall_back_without_double_counting() -> None:
    """A reaction whose emoji_id is escaped is read by the slow path, and counted once;
    invalid UTF-8 in a sliced field is malformed, never a crash."""
    part = AnalyticsPartial()
    line = (
        b'{"event_type":"add_reaction","channel_id":"7","emoji_name":"x",'
        b'"emoji_id":"9\\u0039","timestamp":"\\"2023-06-01T01:00:00Z\\""}\n'
    )
    scan_lines(part, line)
    assert part.reactions == {("2023-06-01", "7", "x"): 1}
    assert part.custom_reactions == {("2023-06-01", "7", "x")}
    bad = b'{"event_type":"app_opened","os":"\xff\xfe","timestamp":"\\"2023-06-01T01:00:00Z\\""}\n'
    part = AnalyticsPartial()
    scan_lines(part, bad)
    assert part.app_opened == {}
    assert part.malformed == 1


def test_json_messages_of_unexpected_shapes_are_counted_one_by_one(tmp_path: Path) -> None:
    """Valid JSON the typed decoder rejects (a number for a timestamp, a missing field, a
    non-object) falls back to the tolerant parse: good messages kept, the rest malformed."""
    data = orjson.dumps(
        [
            {"ID": 1, "Timestamp": 5, "Contents": "x"},
            {"ID": 2, "Timestamp": "2023-01-01 10:00:00", "Contents": None},
            {"ID": 3},
            "not an object",
            {"ID": 4, "Timestamp": "2023-01-01 11:00:00", "Contents": "happy"},
        ]
    )
    zf = zipfile.ZipFile(_zip(tmp_path, {"m.json": data}))
    batches = list(iter_json_messages(zf, "m.json", True))
    assert [t for b in batches for t in b.timestamps] == [
        "2023-01-01 10:00:00",
        "2023-01-01 11:00:00",
    ]
    assert [c for b in batches for c in b.contents] == ["", "happy"]
    assert sum(b.malformed for b in batches) == 3


def test_two_objects_on_one_line_are_one_malformed_line() -> None:
    """Lines are decoded one by one: ``{...},{...}`` on one line is not two events."""
    part = AnalyticsPartial()
    stamp = _ts("2023-06-01T01:00:00Z")
    line = _line("guild_joined", guild_id="1", timestamp=stamp).rstrip(b"\n")
    scan_lines(part, line + b"," + line + b"\n" + _line("email_opened", timestamp=stamp))
    assert part.malformed == 1
    assert part.guild_joined == {}
    assert part.per_day == {("email_opened", "2023-06-01"): 1}
    assert (part.lines, part.events) == (2, 2)


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
def test_shard_halves_cover_every_line_once(block: int) -> None:
    """Whatever the split offset and block size, the two halves are the whole entry cut
    just after the newline that ends the line holding offset split_at - 1."""
    from cordvault.insights.package.analytics import _half_of

    data = b"".join(b"x" * (n % 13) + b"\n" for n in range(40)) + b"tail-without-newline"
    for split_at in [*range(len(data) + 2), 10**9]:

        def blocks() -> Iterator[bytes]:
            return (data[i : i + block] for i in range(0, len(data), block))

        first = b"".join(_half_of(blocks(), split_at, second=False))
        second = b"".join(_half_of(blocks(), split_at, second=True))
        assert first + second == data
        if 0 < split_at <= len(data):
            assert len(first) >= split_at or b"\n" not in data[split_at - 1 :]
            assert first.endswith(b"\n") or first == data
            assert b"\n" not in first[split_at - 1 : -1]
        else:
            assert (first, second) == ((b"", data) if split_at <= 0 else (data, b""))


def test_scanning_a_shard_in_halves_counts_like_the_whole(tmp_path: Path) -> None:
    lines = b"".join(
        _line(
            ["email_opened", "add_reaction", "app_opened", "other"][n % 4],
            timestamp=_ts(f"2023-06-{n % 28 + 1:02d}T{n % 24:02d}:00:00.000Z"),
            channel_id=str(n % 5),
            emoji_name="x",
            os="ios",
        )
        for n in range(3000)
    )
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Activity/analytics/events-1.json", lines)
    name = "Activity/analytics/events-1.json"
    with zipfile.ZipFile(path) as zf:
        whole = scan_shard(zf, name)
        for split_at in (1, len(lines) // 3, len(lines) // 2, len(lines) - 1):
            merged = scan_shard(zf, name, split_at=split_at)
            merged.merge(scan_shard(zf, name, split_at=split_at, second=True))
            assert (merged.lines, merged.events, merged.malformed) == (3000, 3000, 0)
            assert merged.per_day == whole.per_day
            assert merged.reactions == whole.reactions
            assert merged.app_opened == whole.app_opened
