"""Content-Type and Content-Disposition for every kind of file name."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.rangeapp import Source, make_app

from cordvault.web.disposition import (
    MAX_FILENAME_BYTES,
    content_disposition,
    media_type_for,
)

_HEADER_SAFE = re.compile(r"^[\x20-\x7e]*$")


def _decoded_star(value: str) -> str:
    """The exact name a browser takes from ``filename*=UTF-8''...``."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)$", value)
    assert match, value
    return unquote(match.group(1), encoding="utf-8", errors="strict")


def _fallback(value: str) -> str:
    match = re.match(r'^(?:attachment|inline); filename="([^"\\]*)"', value)
    assert match, value
    return match.group(1)


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("report.pdf", "report.pdf"),
        ("Ünïcødé résumé.txt", "Unic_de resume.txt"),  # ø has no ASCII decomposition
        ("日本語のファイル.png", "________.png"),
        ('quote"in"name.txt', "quote_in_name.txt"),
        ("semi;colon.txt", "semi_colon.txt"),
        ("back\\slash.txt", "back_slash.txt"),
        ("100%.txt", "100_.txt"),
        ("crlf\r\nSet-Cookie: x=1.txt", "crlfSet-Cookie: x=1.txt"),
        ("tab\there\x00nul.txt", "tabherenul.txt"),
        ("emoji 🎉.gif", "emoji _.gif"),
        ("a/b/../c.txt", "a_b_.._c.txt"),
    ],
)
def test_nasty_names(name: str, fallback: str) -> None:
    value = content_disposition(name, inline=False)
    assert _HEADER_SAFE.match(value), value
    assert _fallback(value) == fallback
    # The exact name survives except for control characters and path separators.
    expected = "".join(c for c in name if c >= " " and c != "\x7f")
    expected = expected.replace("/", "_").replace("\\", "_")
    if "filename*=" in value:
        assert _decoded_star(value) == expected
    else:
        assert fallback == expected


def test_plain_ascii_name_has_no_extended_parameter() -> None:
    assert content_disposition("notes.txt", inline=True) == 'inline; filename="notes.txt"'
    assert content_disposition(None, inline=False) == "attachment"


def test_very_long_names_are_cut_keeping_the_extension() -> None:
    name = "é" * 1000 + ".tar.gz"
    value = content_disposition(name, inline=False)
    star = _decoded_star(value)
    assert star.endswith(".gz")
    assert len(star.encode()) <= MAX_FILENAME_BYTES
    assert len(value) < 2000


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_name_gives_a_valid_header(name: str) -> None:
    value = content_disposition(name, inline=False)
    assert _HEADER_SAFE.match(value)
    assert value.startswith("attachment")
    if "filename*=" in value:
        _decoded_star(value)


def test_any_name_survives_a_real_response() -> None:
    names = ["x\r\ny.bin", "ü.bin", "a" * 2000 + ".bin", '";.bin', ""]
    for name in names:
        response = TestClient(make_app(Source(b"abc"), filename=name)).get("/file")
        assert response.status_code == 200
        assert response.content == b"abc"
        assert response.headers["content-disposition"].startswith("attachment; filename=")


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("photo.JPG", "image/jpeg"),
        ("clip.mp4", "video/mp4"),
        ("movie.mkv", "video/x-matroska"),
        ("song.flac", "audio/flac"),
        ("image.webp", "image/webp"),
        ("doc.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("README.md", "text/markdown"),
        ("data.json", "application/json"),
        ("archive.tar.gz", "application/gzip"),  # not the inner tar: no transparent unpacking
        ("archive.tgz", "application/gzip"),
        ("backup.tar.xz", "application/x-xz"),
        ("archive.zip", "application/zip"),
        ("pack.7z", "application/x-7z-compressed"),
        ("Makefile", "application/octet-stream"),
        ("no_extension.", "application/octet-stream"),
        ("weird.xyzzy", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_media_type_for(name: str, media_type: str) -> None:
    assert media_type_for(name) == media_type


def test_inline_refused_for_active_content() -> None:
    for name, media_type in [
        ("x.html", "text/html"),
        ("x.svg", "image/svg+xml"),
        ("x.xml", "text/xml"),
        ("x.js", "text/javascript"),
    ]:
        assert content_disposition(name, inline=True, media_type=media_type).startswith(
            "attachment;"
        )
    assert content_disposition("x.png", inline=True, media_type="image/png").startswith("inline;")
