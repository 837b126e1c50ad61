"""DNS rebinding: the address the SSRF guard vets is the address the downloader connects to.

A scripted resolver (``socket.getaddrinfo`` patched; numeric hosts and unscripted names go to
the real one) plays a hostile DNS server: it answers a public address to the first lookup of a
name and a local one afterwards. Local HTTP and HTTPS servers count the requests they receive,
so "refused" means no request reached them, not merely an error code.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.support.insights_server import PackageServer, package_handler

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.download import download_package
from cordvault.insights.ssrf import GuardedTransport

PUBLIC = "93.184.216.34"  # globally routable; never connected to by these tests

_real_getaddrinfo = socket.getaddrinfo


@dataclass
class HostileDns:
    """Scripted answers per name: the n-th lookup gets ``answers[n]`` (the last one repeats)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        script = self.answers.get(name)
        if script is None:
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        answer = script[min(self.lookups[name], len(script) - 1)]
        self.lookups[name] += 1
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos: list[Any] = []
        for address in answer:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> HostileDns:
    fake = HostileDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def download(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Callable[[str, list[str]], Path]:
    def run(url: str, prefixes: list[str]) -> Path:
        dest = tmp_path / "package.zip"
        settings = make_settings(download_connect_timeout=2.0)
        download_package(url, dest, settings=settings, prefixes=prefixes)
        return dest

    return run


def _refusal(fn: Callable[[], object]) -> ErrorCode:
    with pytest.raises(CordvaultError) as info:
        fn()
    return info.value.code


def _port(server: PackageServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def test_name_checked_public_then_connected_loopback_is_refused(
    dns: HostileDns,
    download: Callable[[str, list[str]], Path],
    package_server: PackageServer,
    small_package: Path,
    tmp_path: Path,
) -> None:
    package_server.files["a.zip"] = small_package
    dns.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    url = f"http://rebind.test:{_port(package_server)}/pkg/a.zip"
    # The local server itself is whitelisted (by its IP), which must not cover the name.
    code = _refusal(lambda: download(url, [package_server.base + "/"]))
    assert code == ErrorCode.INVALID_LINK
    assert package_server.hits == []
    assert dns.lookups["rebind.test"] == 2  # the early check, then the connection's own lookup
    assert not (tmp_path / "package.zip").exists()


@pytest.fixture
def redirector() -> Iterator[tuple[str, list[str], list[str]]]:
    """A local server answering every request with a 302 to ``target[0]``; returns base, hits."""
    target: list[str] = [""]
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _redirect(self) -> None:
            hits.append(f"{self.command} {self.path}")
            self.send_response(302)
            self.send_header("Location", target[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = _redirect
        do_GET = _redirect

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", target, hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_redirect_to_a_rebinding_name_is_refused(
    dns: HostileDns,
    download: Callable[[str, list[str]], Path],
    package_server: PackageServer,
    small_package: Path,
    redirector: tuple[str, list[str], list[str]],
) -> None:
    base, target, hits = redirector
    package_server.files["a.zip"] = small_package
    dns.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    target[0] = f"http://rebind.test:{_port(package_server)}/pkg/a.zip"
    prefixes = [base + "/", package_server.base + "/"]
    assert _refusal(lambda: download(base + "/start", prefixes)) == ErrorCode.INVALID_LINK
    assert hits == ["HEAD /start"]
    assert package_server.hits == []
    assert dns.lookups["rebind.test"] == 2


@pytest.mark.parametrize(
    "local",
    [
        ["::1"],
        ["fe80::1"],
        ["fc00::1"],
        ["fd12:3456:789a::1"],
        ["::ffff:127.0.0.1"],
        ["::ffff:10.0.0.1"],
        ["::ffff:169.254.169.254"],
        ["::"],
        ["169.254.169.254"],
        ["10.0.0.1"],
        ["100.64.0.1"],
        ["0.0.0.0"],
        [PUBLIC, "127.0.0.1"],  # one local address in the answer is enough to refuse
    ],
)
def test_local_addresses_are_refused_at_connect(
    local: list[str],
    dns: HostileDns,
    download: Callable[[str, list[str]], Path],
    package_server: PackageServer,
) -> None:
    dns.answers["v6.test"] = [[PUBLIC], local]
    url = f"http://v6.test:{_port(package_server)}/pkg/a.zip"
    # INVALID_LINK (vetted), not DOWNLOAD_FAILED (a connection attempt that happened to fail).
    assert _refusal(lambda: download(url, [])) == ErrorCode.INVALID_LINK
    assert dns.lookups["v6.test"] == 2
    assert package_server.hits == []


@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "127.1"])
def test_literal_local_forms_are_refused(
    host: str, download: Callable[[str, list[str]], Path], package_server: PackageServer
) -> None:
    url = f"http://{host}:{_port(package_server)}/pkg/a.zip"
    assert _refusal(lambda: download(url, [])) == ErrorCode.INVALID_LINK
    assert package_server.hits == []


def test_whitelisted_name_connects_to_its_single_vetted_answer(
    dns: HostileDns,
    download: Callable[[str, list[str]], Path],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    package_server.files["a.zip"] = small_package
    # pkg.test exists only in the scripted resolver, so reaching the server proves the socket
    # went to the vetted answer; two lookups prove one lookup per connection (HEAD, GET).
    dns.answers["pkg.test"] = [["127.0.0.1"]]
    base = f"http://pkg.test:{_port(package_server)}"
    dest = download(base + "/pkg/a.zip", [base + "/"])
    assert dest.read_bytes() == small_package.read_bytes()
    assert package_server.hits == ["HEAD /pkg/a.zip", "GET /pkg/a.zip"]
    assert dns.lookups["pkg.test"] == 2


def test_a_prefix_only_covers_the_host_it_names(
    dns: HostileDns,
    download: Callable[[str, list[str]], Path],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    package_server.files["a.zip"] = small_package
    dns.answers["pkg.test"] = [["127.0.0.1"]]
    dns.answers["evil.test"] = [["127.0.0.1"]]
    port = _port(package_server)
    prefix = f"http://pkg.test:{port}"  # no trailing slash: a string prefix of the URL below
    url = f"http://pkg.test:{port}@evil.test:{port}/pkg/a.zip"
    assert _refusal(lambda: download(url, [prefix])) == ErrorCode.INVALID_LINK
    assert package_server.hits == []


@dataclass
class TlsServer:
    base_port: int
    state: PackageServer
    client_context: ssl.SSLContext
    sni: list[str | None]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """An HTTPS package server on 127.0.0.1 whose certificate names only ``pkg.test``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cordvault test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pkg.test")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pkg.test")]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = tmp_path / "leaf.pem"
    key_file = tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    sni: list[str | None] = []
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    server_context.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    client_context = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )

    state = PackageServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), package_handler(state))
    httpd.daemon_threads = True
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    port = int(httpd.server_address[1])
    state.base = f"https://pkg.test:{port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsServer(port, state, client_context, sni)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_keeps_sni_and_certificate_checks_on_the_host_name(
    dns: HostileDns, tls_server: TlsServer, small_package: Path
) -> None:
    tls_server.state.files["a.zip"] = small_package
    dns.answers["pkg.test"] = [["127.0.0.1"]]
    dns.answers["other.test"] = [["127.0.0.1"]]
    port = tls_server.base_port
    prefixes = [f"https://pkg.test:{port}/", f"https://other.test:{port}/"]
    transport = GuardedTransport(prefixes, verify=tls_server.client_context)
    with httpx.Client(transport=transport) as client:
        response = client.get(f"https://pkg.test:{port}/pkg/a.zip")
        assert response.status_code == 200
        assert response.content == small_package.read_bytes()
        # Same socket target, but the certificate does not name other.test: verification is by
        # host name, never by the vetted IP (and never switched off).
        with pytest.raises(httpx.ConnectError):
            client.get(f"https://other.test:{port}/pkg/a.zip")
    assert tls_server.sni == ["pkg.test", "other.test"]
    assert tls_server.state.hits == ["GET /pkg/a.zip"]


def test_https_rebinding_is_refused_by_the_transport_alone(
    dns: HostileDns, tls_server: TlsServer
) -> None:
    # No early check_url here: the transport's backend is the guard that counts.
    dns.answers["rebind.test"] = [["127.0.0.1"]]
    transport = GuardedTransport([], verify=tls_server.client_context)
    with httpx.Client(transport=transport) as client, pytest.raises(CordvaultError) as info:
        client.get(f"https://rebind.test:{tls_server.base_port}/pkg/a.zip")
    assert info.value.code == ErrorCode.INVALID_LINK
    assert "rebind.test" not in info.value.message
    assert tls_server.sni == []
    assert tls_server.state.hits == []


def test_unresolvable_name_is_download_failed(
    dns: HostileDns, download: Callable[[str, list[str]], Path]
) -> None:
    dns.answers["gone.test"] = [[]]
    assert _refusal(lambda: download("http://gone.test/pkg/a.zip", [])) == (
        ErrorCode.DOWNLOAD_FAILED
    )
