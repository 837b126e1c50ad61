"""Server-side request forgery guard for package downloads.

A package link (and every redirect it leads to) must point at a public address: we resolve the
host and refuse loopback, private, link-local, multicast, reserved and unspecified addresses,
unless the URL starts with an explicitly allowed ``DL_ZIP_WHITELISTED_DOMAINS`` prefix (that is
how tests and self-hosters serve packages from a local server). Only http(s) is allowed.

Limit: the check resolves the name, then httpx resolves it again to connect; a DNS answer that
changes in between (rebinding) is not caught. Deployments exposed to hostile DNS should also
block private ranges at the network level.

Error contract: refused URL -> ``CordvaultError(INVALID_LINK)``; a name that does not resolve ->
``CordvaultError(DOWNLOAD_FAILED)``. Messages never contain the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from cordvault.core.errors import CordvaultError, ErrorCode


def allowed_by_prefix(url: str, prefixes: list[str]) -> bool:
    """Whether ``url`` starts with one of the explicitly allowed prefixes."""
    return any(url.startswith(p) for p in prefixes)


def check_url(url: str, prefixes: list[str]) -> None:
    """Refuse ``url`` unless it is http(s) to a public address or under an allowed prefix."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CordvaultError(ErrorCode.INVALID_LINK, "the link is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise CordvaultError(ErrorCode.INVALID_LINK, "the link is not an http(s) URL")
    if allowed_by_prefix(url, prefixes):
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise CordvaultError(
            ErrorCode.DOWNLOAD_FAILED, "the link's host name does not resolve"
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not is_public(address):
            raise CordvaultError(
                ErrorCode.INVALID_LINK, "the link points to a private or local address"
            )


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
