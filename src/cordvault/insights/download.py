"""Download a package link to a temp file: HEAD check, guarded redirects, caps, timeouts.

Steps (the reference's contract):

1. ``HEAD`` the link, following redirects ourselves so each hop passes the SSRF guard
   (:mod:`cordvault.insights.ssrf`: an early :func:`check_url` per hop, then the
   :class:`GuardedTransport`, which vets the very address each connection goes to, so DNS
   rebinding between check and connect is refused too); more than :data:`MAX_REDIRECTS` hops
   (or a loop) -> ``INVALID_LINK``. A 4xx answer -> ``EXPIRED_LINK`` (Discord's signed links
   expire); anything but 200 with ``Content-Type: application/octet-stream`` ->
   ``INVALID_LINK``.
2. ``GET`` the final URL, streaming to ``dest`` in 64 KiB chunks: a ``Content-Length`` or a
   body over ``DOWNLOAD_MAX_BYTES`` -> ``PACKAGE_TOO_LARGE``; connect/read timeouts and the
   whole-transfer deadline ``DOWNLOAD_TOTAL_TIMEOUT`` (slow-loris servers trickling bytes) ->
   ``DOWNLOAD_TIMEOUT``; other network failures -> ``DOWNLOAD_FAILED``.

On any failure ``dest`` is removed. URLs never reach messages or logs (httpx logs URLs at INFO;
its logger is held at WARNING by :func:`cordvault.core.logs.configure_logging`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from urllib.parse import urljoin

import httpx

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.ssrf import GuardedTransport, check_url

MAX_REDIRECTS = 10
CHUNK = 64 * 1024
_OCTET_STREAM = "application/octet-stream"


class _Deadline(Exception):
    """Raised by the SIGALRM handler inside a blocked read."""


def download_package(
    url: str,
    dest: Path,
    *,
    settings: Settings,
    prefixes: list[str],
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Download ``url`` to ``dest``; return the byte count. See the module doc for errors."""
    timeout = httpx.Timeout(
        connect=settings.download_connect_timeout,
        read=settings.download_read_timeout,
        write=settings.download_read_timeout,
        pool=settings.download_connect_timeout,
    )
    deadline = time.monotonic() + settings.download_total_timeout
    try:
        with (
            _hard_deadline(settings.download_total_timeout),
            httpx.Client(
                transport=GuardedTransport(prefixes),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
            ) as client,
        ):
            final = _head(client, url, prefixes)
            return _get(client, final, dest, settings, prefixes, deadline, cancelled)
    except CordvaultError:
        dest.unlink(missing_ok=True)
        raise
    except (_Deadline, httpx.TimeoutException) as exc:
        dest.unlink(missing_ok=True)
        raise CordvaultError(ErrorCode.DOWNLOAD_TIMEOUT, "the package download timed out") from exc
    except (httpx.HTTPError, OSError) as exc:
        dest.unlink(missing_ok=True)
        raise CordvaultError(
            ErrorCode.DOWNLOAD_FAILED, f"the package download failed ({type(exc).__name__})"
        ) from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _head(client: httpx.Client, url: str, prefixes: list[str]) -> str:
    """Follow HEAD redirects with the SSRF guard on every hop; return the final URL."""
    seen: set[str] = set()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, prefixes)
        if current in seen:
            break
        seen.add(current)
        response = client.head(current)
        if response.is_redirect and "location" in response.headers:
            current = urljoin(current, response.headers["location"])
            continue
        if 400 <= response.status_code < 500:
            raise CordvaultError(ErrorCode.EXPIRED_LINK, "the package link has expired")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or content_type != _OCTET_STREAM:
            raise CordvaultError(ErrorCode.INVALID_LINK, "the link does not serve a package")
        return current
    raise CordvaultError(ErrorCode.INVALID_LINK, "the link redirects too many times")


def _get(
    client: httpx.Client,
    url: str,
    dest: Path,
    settings: Settings,
    prefixes: list[str],
    deadline: float,
    cancelled: Callable[[], bool] | None,
) -> int:
    limit = settings.download_max_bytes
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, prefixes)
        with client.stream("GET", current) as response:
            if response.is_redirect and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                continue
            if 400 <= response.status_code < 500:
                raise CordvaultError(ErrorCode.EXPIRED_LINK, "the package link has expired")
            if response.status_code != 200:
                raise CordvaultError(
                    ErrorCode.DOWNLOAD_FAILED,
                    f"the package server answered {response.status_code}",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            written = 0
            with dest.open("wb") as out:
                for chunk in response.iter_raw(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise _too_large(limit)
                    if time.monotonic() > deadline:
                        raise _Deadline
                    if cancelled is not None and cancelled():
                        raise CordvaultError(ErrorCode.CANCELLED, "the job was cancelled")
                    out.write(chunk)
            return written
    raise CordvaultError(ErrorCode.INVALID_LINK, "the link redirects too many times")


def _too_large(limit: int) -> CordvaultError:
    return CordvaultError(
        ErrorCode.PACKAGE_TOO_LARGE,
        "the package is larger than the download limit",
        details={"limit": limit},
    )


@contextlib.contextmanager
def _hard_deadline(seconds: float) -> Iterator[None]:
    """Interrupt blocked reads after ``seconds`` (main thread only: SIGALRM).

    Per-read timeouts do not stop a server that sends one byte just before each timeout, while
    waiting for headers included; the alarm does. Off the main thread only the per-chunk check
    applies (the job runner also kills an analysis process that overruns).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(_signum: int, _frame: FrameType | None) -> None:
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
