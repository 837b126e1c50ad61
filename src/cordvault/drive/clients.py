"""Who is calling: the client address (socket peer, or ``X-Forwarded-For`` from a trusted proxy).

Every front door (REST, web pages, WebDAV, WebSocket) builds a :class:`ClientInfo` with
:func:`client_info` from what its server hands it (the socket peer, the ``X-Forwarded-For``
and ``User-Agent`` headers) and passes it to :mod:`cordvault.drive.signin`. One rule:

- the socket peer is the client, unless it lies in ``TRUSTED_PROXIES``;
- then ``X-Forwarded-For`` is read from the right (each proxy appends the address it saw) and
  the first address that is not itself a trusted proxy is the client. Addresses left of it
  were written by the client and are never believed. A malformed entry stops the walk: the
  last trusted hop is the client then (never an address the caller could choose).

Addresses are canonical text (``ipaddress``); a peer that is not an IP address (a Unix socket,
a test transport's ``"testclient"``) is kept as given, cut to 64 characters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_ADDRESS = 64
MAX_USER_AGENT = 255
UNKNOWN = "unknown"


@dataclass(frozen=True)
class ClientInfo:
    """The caller's address and user agent (both shown in the security log and sessions)."""

    address: str = UNKNOWN
    user_agent: str = ""


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[v6]:port"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "v4:port"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's address under the rule above (``"unknown"`` without a peer)."""
    if not peer:
        return UNKNOWN
    current = _parse(peer)
    if current is None:
        return peer[:MAX_ADDRESS]
    if forwarded_for and proxies:
        hops = [h for h in forwarded_for.split(",") if h.strip()]
        while _trusted(current, proxies) and hops:
            hop = _parse(hops.pop())
            if hop is None:
                break
            current = hop
    if isinstance(current, ipaddress.IPv6Address) and current.ipv4_mapped is not None:
        current = current.ipv4_mapped
    return str(current)


def client_info(
    peer: str | None,
    forwarded_for: str | None,
    user_agent: str | None,
    proxies: Sequence[Network],
) -> ClientInfo:
    """A :class:`ClientInfo` from a request's peer and headers (user agent cut to 255)."""
    agent = "".join(ch for ch in (user_agent or "") if ch.isprintable())[:MAX_USER_AGENT]
    return ClientInfo(address=client_address(peer, forwarded_for, proxies), user_agent=agent)


def throttle_key(address: str) -> str:
    """The address a client is throttled under: itself, or for IPv6 its /64 (one host
    usually holds a whole /64, so single IPv6 addresses cost an attacker nothing)."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address[:MAX_ADDRESS]
