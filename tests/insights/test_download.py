"""The downloader: HEAD check, redirects re-checked by the SSRF guard, caps and timeouts."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.insights_server import PackageServer

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.download import download_package
from cordvault.insights.ssrf import check_url, is_public


@pytest.fixture
def fetch(
    make_settings: Callable[..., Settings], package_server: PackageServer, tmp_path: Path
) -> Callable[..., Path]:
    def run(path: str, prefixes: list[str] | None = None, **overrides: object) -> Path:
        dest = tmp_path / "package.zip"
        settings = make_settings(**overrides)
        allowed = [package_server.base + "/"] if prefixes is None else prefixes
        download_package(package_server.base + path, dest, settings=settings, prefixes=allowed)
        return dest

    return run


def _code(fn: Callable[[], object]) -> ErrorCode:
    with pytest.raises(CordvaultError) as info:
        fn()
    return info.value.code


def test_downloads_through_redirects(
    fetch: Callable[..., Path], package_server: PackageServer, small_package: Path
) -> None:
    package_server.files["a.zip"] = small_package
    dest = fetch("/hop/pkg/a.zip")
    assert dest.read_bytes() == small_package.read_bytes()
    assert package_server.hits[:2] == ["HEAD /hop/pkg/a.zip", "HEAD /pkg/a.zip"]


def test_expired_and_invalid_links(fetch: Callable[..., Path], tmp_path: Path) -> None:
    assert _code(lambda: fetch("/expired")) == ErrorCode.EXPIRED_LINK
    assert _code(lambda: fetch("/html")) == ErrorCode.INVALID_LINK
    assert _code(lambda: fetch("/pkg/missing.zip")) == ErrorCode.EXPIRED_LINK
    assert not (tmp_path / "package.zip").exists()


def test_redirect_loop_is_invalid_link(fetch: Callable[..., Path]) -> None:
    assert _code(lambda: fetch("/loop")) == ErrorCode.INVALID_LINK


def test_redirect_to_private_address_is_refused(fetch: Callable[..., Path]) -> None:
    assert _code(lambda: fetch("/to-private")) == ErrorCode.INVALID_LINK


def test_loopback_needs_an_allowed_prefix(fetch: Callable[..., Path]) -> None:
    # Without the prefix naming our local server, loopback is refused before any request.
    assert _code(lambda: fetch("/pkg/a.zip", prefixes=[])) == ErrorCode.INVALID_LINK
    assert _code(lambda: fetch("/pkg/a.zip", prefixes=["http://127.0.0.1:1/"])) == (
        ErrorCode.INVALID_LINK
    )


def test_size_cap_with_and_without_content_length(
    fetch: Callable[..., Path], package_server: PackageServer, small_package: Path, tmp_path: Path
) -> None:
    package_server.files["a.zip"] = small_package
    assert _code(lambda: fetch("/pkg/a.zip", download_max_bytes=1000)) == (
        ErrorCode.PACKAGE_TOO_LARGE
    )
    assert _code(lambda: fetch("/huge", download_max_bytes=1_000_000)) == (
        ErrorCode.PACKAGE_TOO_LARGE
    )
    assert not (tmp_path / "package.zip").exists()


def test_slow_loris_hits_the_total_deadline(
    fetch: Callable[..., Path], package_server: PackageServer, tmp_path: Path
) -> None:
    # One byte every 0.3 s beats a 5 s read timeout forever; the 1.5 s deadline stops it.
    package_server.trickle_delay = 0.3
    code = _code(lambda: fetch("/slow", download_total_timeout=1.5))
    assert code == ErrorCode.DOWNLOAD_TIMEOUT
    assert not (tmp_path / "package.zip").exists()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("100.64.0.1", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_check_url_refuses_non_http_and_local_names() -> None:
    for url in ["ftp://example.com/x", "http:///nohost", "http://localhost:8080/x"]:
        with pytest.raises(CordvaultError) as info:
            check_url(url, [])
        assert info.value.code == ErrorCode.INVALID_LINK
    check_url("http://localhost:8080/x", ["http://localhost:8080/"])
