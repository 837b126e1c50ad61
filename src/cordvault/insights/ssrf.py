"""Server-side request forgery guard for package downloads.

A package link (and every redirect it leads to) must point at a public address: loopback,
private, link-local, CGNAT, multicast, reserved and unspecified addresses (IPv4, IPv6 and
IPv4-mapped IPv6) are refused, unless the URL starts with an explicitly allowed
``DL_ZIP_WHITELISTED_DOMAINS`` prefix naming the same host and port (that is how tests and
self-hosters serve packages from a local server). Only http(s) is allowed.

Two layers:

- :func:`check_url` refuses a bad URL early, before anything is opened (scheme, host, and the
  addresses the name resolves to right now). It is advisory against hostile DNS: a name can
  answer a public address to this check and a private one a moment later.
- :class:`GuardedTransport` is what actually enforces the rule. Its network backend resolves the
  name once per connection, vets every address of that answer, and connects to those vetted
  addresses only, so the address checked is the address connected to (DNS rebinding is caught),
  for the first request and every redirect hop, HTTP and HTTPS alike. TLS still runs against the
  host name (httpcore passes the origin host as SNI and for certificate matching).
  Keep-alive is off so that every request opens (and so vets) its own connection: a pooled
  connection opened under a whitelisted prefix is never reused for a URL outside it.

Error contract: refused URL or address -> ``CordvaultError(INVALID_LINK)``; a name that does not
resolve -> ``CordvaultError(DOWNLOAD_FAILED)``. Messages never contain the URL or the host.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from contextvars import ContextVar
from urllib.parse import urlsplit

import httpcore
import httpx

from cordvault.core.errors import CordvaultError, ErrorCode

# Whether the request being sent on this thread is under a whitelisted prefix. Set by
# GuardedTransport around each request and read by GuardedBackend.connect_tcp, which only sees a
# host and a port, not the URL the prefixes are matched against.
_ALLOW_PRIVATE: ContextVar[bool] = ContextVar("cordvault_ssrf_allow_private", default=False)


def allowed_by_prefix(url: str, prefixes: list[str]) -> bool:
    """Whether ``url`` starts with an allowed prefix that names the same host and port.

    The host/port comparison stops string tricks such as ``http://127.0.0.1:80@evil/`` or
    ``http://127.0.0.1:8000/`` matching the slash-less prefix ``http://127.0.0.1:800``.
    A prefix without a host (``http://``) is compared as a plain string prefix.
    """
    return any(url.startswith(p) and _same_host(url, p) for p in prefixes)


def check_url(url: str, prefixes: list[str]) -> None:
    """Refuse ``url`` unless it is http(s) to a public address or under an allowed prefix.

    Raises ``CordvaultError(INVALID_LINK)`` for a malformed or non-http(s) URL or a non-public
    address, ``CordvaultError(DOWNLOAD_FAILED)`` when the host does not resolve. This is the early
    check; :class:`GuardedTransport` re-vets the address it actually connects to.
    """
    host, port = _host_port(url)
    if allowed_by_prefix(url, prefixes):
        return
    vetted_addresses(host, port, allow_private=False)


def vetted_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` once; return its addresses, refusing any non-public one.

    With ``allow_private`` every address is returned. One non-public address refuses the whole
    answer (a connection could land on it). Raises ``CordvaultError(DOWNLOAD_FAILED)`` when the
    name does not resolve and ``CordvaultError(INVALID_LINK)`` for a non-public address.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise CordvaultError(
            ErrorCode.DOWNLOAD_FAILED, "the link's host name does not resolve"
        ) from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        if not allow_private:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                address = None
            if address is None or not is_public(address):
                raise CordvaultError(
                    ErrorCode.INVALID_LINK, "the link points to a private or local address"
                )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise CordvaultError(ErrorCode.DOWNLOAD_FAILED, "the link's host name does not resolve")
    return addresses


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4 part)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses vetted by the SSRF rule."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host`` once, vet the answer, connect to the first vetted address that answers.

        Each address is handed to the stock backend as a numeric literal, which the C resolver
        parses without a DNS query, so no second lookup can change the target. Raises
        ``CordvaultError`` as :func:`vetted_addresses` does, else httpcore's connect errors.
        """
        addresses = vetted_addresses(host, port, allow_private=_ALLOW_PRIVATE.get())
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # vetted_addresses never returns an empty list
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx`` transport whose every connection goes through :class:`GuardedBackend`.

    ``prefixes`` are the ``DL_ZIP_WHITELISTED_DOMAINS`` prefixes: a request whose URL is under
    one may connect to private addresses. No proxy, no environment (``trust_env`` off), no
    keep-alive (see the module doc). ``verify`` is httpx's: ``True`` (system CAs via certifi)
    or an ``ssl.SSLContext``.
    """

    def __init__(self, prefixes: list[str], *, verify: ssl.SSLContext | bool = True) -> None:
        context = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify=verify, trust_env=False)
        )
        super().__init__(verify=context, trust_env=False)
        self._prefixes = list(prefixes)
        # httpx 0.28's HTTPTransport takes no network backend, so its pool is rebuilt with ours;
        # max_keepalive_connections=0 closes each connection once its response is done.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, max_keepalive_connections=0, network_backend=GuardedBackend()
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; private addresses are allowed only under a whitelisted prefix."""
        token = _ALLOW_PRIVATE.set(allowed_by_prefix(str(request.url), self._prefixes))
        try:
            return super().handle_request(request)
        finally:
            _ALLOW_PRIVATE.reset(token)


def _host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL, else ``CordvaultError(INVALID_LINK)``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CordvaultError(ErrorCode.INVALID_LINK, "the link is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise CordvaultError(ErrorCode.INVALID_LINK, "the link is not an http(s) URL")
    return host, port


def _same_host(url: str, prefix: str) -> bool:
    try:
        want = urlsplit(prefix)
        if not want.hostname:
            return True
        have = urlsplit(url)
        default = {"http": 80, "https": 443}
        return (have.hostname, have.port or default.get(have.scheme)) == (
            want.hostname,
            want.port or default.get(want.scheme),
        )
    except ValueError:
        return False
