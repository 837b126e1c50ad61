"""The HTTP protocol ``cordvault serve`` runs: uvicorn's httptools protocol, tuned per socket.

One tuning, for downloads. A download's pieces are decrypted in worker threads and written to
the client by the event loop. uvloop's first ``write`` of a piece tries to send it at once and
copies as much as the kernel accepts into the socket, *with the GIL held*: on a fast link that
is several MiB per write (the send buffer autotunes up to ``tcp_wmem``'s maximum, 4 MiB by
default), and the decrypting threads, which take the GIL back between every 64 KiB segment,
wait for it. Sending and decrypting then take turns instead of overlapping: measured on the
local backend, the event loop waited for the next chunk for more than half of a download.

``TCP_NOTSENT_LOWAT`` caps how many *unsent* bytes the kernel queues beyond what is in flight
(and makes the socket writable again once fewer are left). The send window, and so the rate
on a long link, is unchanged: bytes the peer has not acknowledged yet do not count against
the mark, unlike a smaller ``SO_SNDBUF``, which would cap the window too. Each write then
copies at most ~``SEND_LOWAT`` plus the in-flight room, releases the GIL sooner, and the rest
of the piece goes out from the loop as the socket drains, in C.

Measured (``benchmarks/drive_http.py``, 1 GiB, local backend, interleaved with plain
``httptools``): downloads +12 % in median on one VM, the same on another where nginx itself was
slower; never slower (details in docs/benchmarks.md, issue 15).
Unix sockets and transports without a socket are left alone.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# 128 KiB: 64-128 KiB measured best on the local backend; 256 KiB and more gave back most of
# the gain, and below 64 KiB the loop wakes too often per MiB sent.
SEND_LOWAT = 128 * 1024

# Linux's value; ``socket`` exposes the name only where the platform headers define it.
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)


def tune_connection(transport: asyncio.BaseTransport | None) -> bool:
    """Set ``TCP_NOTSENT_LOWAT`` = :data:`SEND_LOWAT` on the TCP socket behind ``transport``.

    Returns whether it was set: ``False`` for a transport without a socket, a socket that is
    not TCP over IPv4/IPv6 (a Unix socket behind a proxy), or a kernel that refuses the option.
    Never raises: a connection that cannot be tuned is served as it is.
    """
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, SEND_LOWAT)
    except OSError:
        return False
    return True


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :func:`tune_connection` applied to every connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        tune_connection(transport)
        super().connection_made(transport)
