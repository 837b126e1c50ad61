"""HTTP Range semantics of ``ranged_response`` through a real app (TestClient)."""

from __future__ import annotations

import os
from datetime import timedelta
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.rangeapp import ETAG, LAST_MODIFIED, Source, make_app, parse_byteranges

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.web.ranges import MAX_RANGES, RangeNotSatisfiable, parse_range_header

DATA = os.urandom(1000) + b"the end."
SIZE = len(DATA)


@pytest.fixture
def source() -> Source:
    return Source(DATA)


@pytest.fixture
def client(source: Source) -> TestClient:
    return TestClient(make_app(source))


def _get(client: TestClient, **headers: str):  # type: ignore[no-untyped-def]
    return client.get("/file", headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_no_range_is_full_200_with_validators(client: TestClient, source: Source) -> None:
    response = _get(client)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == ETAG
    assert response.headers["last-modified"] == format_datetime(LAST_MODIFIED, usegmt=True)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="report.bin"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-range" not in response.headers
    assert source.opened == [(0, SIZE)]
    assert source.closed == 1


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),  # the reference rejected this one
        ("bytes=0-", 0, SIZE),
        ("bytes=10-19", 10, 20),
        ("bytes=3-3", 3, 4),
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE),  # last byte
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE),
        ("bytes=990-5000", 990, SIZE),  # end past the file is clamped
        ("bytes=-1", SIZE - 1, SIZE),  # suffix
        ("bytes=-8", SIZE - 8, SIZE),
        ("bytes=-100000", 0, SIZE),  # suffix longer than the file
        ("BYTES=5-9", 5, 10),  # the unit is case-insensitive
        ("bytes= 5-9 ", 5, 10),
        (f"bytes={SIZE}-,5-9", 5, 10),  # unsatisfiable parts are dropped
        ("bytes=0-9,5-14", 0, 15),  # overlapping ranges are coalesced
        ("bytes=20-29,10-19", 10, 30),  # adjacent ones too, in order
        ("bytes=0-1,,2-4", 0, 5),  # empty list elements are ignored
    ],
)
def test_single_range_is_206(
    client: TestClient, source: Source, header: str, start: int, end: int
) -> None:
    response = _get(client, range=header)
    assert response.status_code == 206
    assert response.content == DATA[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["content-type"] == "application/octet-stream"
    assert source.opened == [(start, end)]
    assert source.closed == 1


@pytest.mark.parametrize(
    "header",
    [
        "bytes=5-2",  # last before first: invalid
        "bytes=abc",
        "bytes=",
        "bytes=,",
        "bytes=1-2-3",
        "bytes=--5",
        "bytes=+1-2",
        "bytes=1 - 2",
        "items=0-5",  # other unit
        "0-5",
        "bytes=0-1,x",  # one bad spec invalidates the header
        "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1)),  # too many
    ],
)
def test_invalid_range_header_is_ignored(client: TestClient, header: str) -> None:
    response = _get(client, range=header)
    assert response.status_code == 200
    assert response.content == DATA
    assert "content-range" not in response.headers


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"])
def test_unsatisfiable_is_416(client: TestClient, source: Source, header: str) -> None:
    response = _get(client, range=header)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert response.json()["errorMessageCode"] == "RANGE_NOT_SATISFIABLE"
    assert source.opened == []


def test_multiple_ranges_are_multipart(client: TestClient, source: Source) -> None:
    response = _get(client, range=f"bytes=0-9, 500-599,-3,{SIZE + 10}-")
    assert response.status_code == 206
    assert response.headers["content-length"] == str(len(response.content))
    assert "content-range" not in response.headers
    parts = parse_byteranges(response.content, response.headers["content-type"])
    assert [(p[1], p[2], p[3]) for p in parts] == [
        (0, 9, SIZE),
        (500, 599, SIZE),
        (SIZE - 3, SIZE - 1, SIZE),
    ]
    for content_type, first, last, _total, data in parts:
        assert content_type == "application/octet-stream"
        assert data == DATA[first : last + 1]
    assert source.opened == [(0, 10), (500, 600), (SIZE - 3, SIZE)]
    assert source.closed == 3


def test_multipart_of_many_overlapping_ranges_is_coalesced(client: TestClient) -> None:
    header = "bytes=" + ",".join(f"{i * 20}-{i * 20 + 30}" for i in range(10)) + ",900-909"
    response = _get(client, range=header)
    parts = parse_byteranges(response.content, response.headers["content-type"])
    assert [(p[1], p[2]) for p in parts] == [(0, 210), (900, 909)]
    assert parts[0][4] == DATA[0:211]


def test_head_sends_headers_only_and_ignores_range(client: TestClient, source: Source) -> None:
    for headers in ({}, {"range": "bytes=0-0"}):
        response = client.head("/file", headers=headers)
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == str(SIZE)
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["etag"] == ETAG
    assert source.opened == []


@pytest.mark.parametrize(
    ("if_range", "partial"),
    [
        (ETAG, True),
        ('"content-v0"', False),  # stale entity-tag
        ('W/"content-v1"', False),  # weak tags never match If-Range
        (format_datetime(LAST_MODIFIED, usegmt=True), True),
        (format_datetime(LAST_MODIFIED - timedelta(seconds=1), usegmt=True), False),
        (format_datetime(LAST_MODIFIED + timedelta(days=1), usegmt=True), False),
        ("not a date", False),
    ],
)
def test_if_range(client: TestClient, if_range: str, partial: bool) -> None:
    response = _get(client, range="bytes=100-199", if_range=if_range)
    if partial:
        assert response.status_code == 206
        assert response.content == DATA[100:200]
    else:
        assert response.status_code == 200
        assert response.content == DATA


def test_if_range_without_range_is_full(client: TestClient) -> None:
    response = _get(client, if_range=ETAG)
    assert response.status_code == 200
    assert response.content == DATA


@pytest.mark.parametrize(
    "headers",
    [
        {"if-none-match": ETAG},
        {"if-none-match": '"other", W/"content-v1"'},
        {"if-none-match": "*"},
        {"if-modified-since": format_datetime(LAST_MODIFIED, usegmt=True)},
    ],
)
def test_conditional_get_is_304(
    client: TestClient, source: Source, headers: dict[str, str]
) -> None:
    response = client.get("/file", headers=headers)
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == ETAG
    assert source.opened == []


def test_stale_conditional_get_is_200(client: TestClient) -> None:
    response = client.get(
        "/file",
        headers={
            "if-none-match": '"content-v0"',
            "if-modified-since": format_datetime(LAST_MODIFIED, usegmt=True),
        },
    )
    assert response.status_code == 200  # If-None-Match wins over If-Modified-Since
    response = client.get(
        "/file",
        headers={
            "if-modified-since": format_datetime(LAST_MODIFIED - timedelta(hours=1), usegmt=True)
        },
    )
    assert response.status_code == 200


def test_empty_file() -> None:
    source = Source(b"")
    client = TestClient(make_app(source))
    response = client.get("/file")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == "0"
    response = client.get("/file", headers={"range": "bytes=0-0"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */0"
    response = client.get("/file", headers={"range": "bytes=-5"})
    assert (response.status_code, response.content) == (200, b"")
    assert source.opened == []  # nothing to read for an empty file


def test_failure_before_first_byte_is_a_json_error(source: Source) -> None:
    source.fail_at = 0
    client = TestClient(make_app(source))
    response = client.get("/file", headers={"range": "bytes=10-20"})
    assert response.status_code == 500
    assert response.json()["errorMessageCode"] == "INTEGRITY_ERROR"
    assert source.closed == 1


def test_failure_mid_stream_aborts_instead_of_sending_wrong_bytes(source: Source) -> None:
    source.fail_at = 500
    client = TestClient(make_app(source))
    # Starlette reports the error raised after the status line went out (the server then drops
    # the connection; see test_server.py for what a real client sees).
    with pytest.raises(RuntimeError, match="response already started") as info:
        client.get("/file")
    assert isinstance(info.value.__cause__, CordvaultError)
    assert info.value.__cause__.code == ErrorCode.INTEGRITY_ERROR
    assert source.produced == 504  # nothing after the failing piece was produced
    assert source.closed == 1


def test_short_producer_aborts() -> None:
    class Short(Source):
        def open_range(self, start: int, end: int):  # type: ignore[no-untyped-def,override]
            yield self.data[start : end - 1]

    client = TestClient(make_app(Short(DATA)))
    with pytest.raises(RuntimeError, match="response already started") as info:
        client.get("/file")
    assert isinstance(info.value.__cause__, CordvaultError)
    assert "shorter" in info.value.__cause__.message


def test_unsafe_media_type_falls_back_to_the_name() -> None:
    client = TestClient(make_app(Source(DATA), filename="a.txt", media_type="text/html\r\nX: y"))
    response = client.get("/file")
    assert response.headers["content-type"] == "text/plain"
    assert "x" not in response.headers


def test_active_content_is_never_inline() -> None:
    client = TestClient(make_app(Source(DATA), filename="page.html", media_type="text/html"))
    assert client.get("/file").headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 1, [(0, 1)]),
        ("bytes=0-0,0-0", 10, [(0, 1)]),
        ("bytes=5-,0-2", 10, [(0, 3), (5, 10)]),
        ("bytes=-20", 10, [(0, 10)]),
        ("bytes=9-", 10, [(9, 10)]),
        ("bytes=1-1", 0, "416"),
        ("bytes=-1", 0, None),
        ("bytes=" + "9" * 5000 + "-", 10, None),  # absurd numbers: ignored, no crash
    ],
)
def test_parse_range_header_table(
    header: str, size: int, expected: list[tuple[int, int]] | str | None
) -> None:
    if expected == "416":
        with pytest.raises(RangeNotSatisfiable):
            parse_range_header(header, size)
    else:
        assert parse_range_header(header, size) == expected


_FUZZ_CLIENT = TestClient(make_app(Source(DATA)))
_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@settings(max_examples=120, deadline=None)
@given(
    range_value=st.one_of(
        _HEADER_TEXT,
        st.lists(st.tuples(st.integers(-5, SIZE + 5), st.integers(-5, SIZE + 5)), max_size=5).map(
            lambda pairs: "bytes=" + ",".join(f"{a}-{b}" for a, b in pairs)
        ),
    ),
    if_range=st.one_of(st.none(), _HEADER_TEXT, st.just(ETAG)),
    if_modified_since=st.one_of(st.none(), _HEADER_TEXT),
)
def test_any_header_values_give_a_well_formed_answer(
    range_value: str, if_range: str | None, if_modified_since: str | None
) -> None:
    headers = {"range": range_value}
    if if_range is not None:
        headers["if-range"] = if_range
    if if_modified_since is not None:
        headers["if-modified-since"] = if_modified_since
    response = _FUZZ_CLIENT.get("/file", headers=headers)
    assert response.status_code in (200, 206, 304, 416)
    if response.status_code == 200:
        assert response.content == DATA
    elif response.status_code == 206 and "content-range" in response.headers:
        first, last = response.headers["content-range"].split(" ")[1].split("/")[0].split("-")
        assert response.content == DATA[int(first) : int(last) + 1]
    elif response.status_code == 206:
        for _type, first, last, total, data in parse_byteranges(
            response.content, response.headers["content-type"]
        ):
            assert total == SIZE
            assert data == DATA[first : last + 1]
