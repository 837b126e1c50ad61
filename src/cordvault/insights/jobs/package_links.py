"""Package links and bearers: which links we accept, which UPN each carries, its package id.

- A Discord link ``https://click.discord.com/ls/click?upn=<UPN>``: the UPN is the ``upn`` query
  value, at least 500 characters of ``[A-Za-z0-9-._]``.
- A link starting with one of the ``DL_ZIP_WHITELISTED_DOMAINS`` prefixes: when it carries a
  ``upn`` query value, that value is the UPN (the client always sends it as its bearer);
  only a link without one falls back to the reference's ``base64(url path without slashes)``.

``package_id = md5_hex(UPN)`` (:func:`package_id_for`, the one definition: the job service,
the routes' bearer check and the CLI's ``analyze --blob`` all use it). Messages never contain
the link or the UPN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights.ssrf import allowed_by_prefix

_UPN = re.compile(r"[A-Za-z0-9\-._]{500,}")
_DISCORD_HOST = "click.discord.com"


@dataclass(frozen=True, repr=False)
class PackageLink:
    """An accepted link and the UPN it carries (both secrets: no repr)."""

    url: str
    upn: str

    @property
    def package_id(self) -> str:
        return package_id_for(self.upn)


def package_id_for(upn: str) -> str:
    """``md5_hex(UPN)``: the package id the Dumpus client computes (an identifier, not crypto)."""
    return hashlib.md5(upn.encode("utf-8"), usedforsecurity=False).hexdigest()


def whitelisted_prefixes(settings: Settings) -> list[str]:
    """The non-empty prefixes of ``DL_ZIP_WHITELISTED_DOMAINS`` (the one parser of that setting:
    the routes accept links and the job runner downloads them with the same list)."""
    raw = settings.dl_zip_whitelisted_domains
    return [p.strip() for p in raw.split(",") if p.strip()]


def parse_link(link: object, prefixes: list[str]) -> PackageLink:
    """Accept a Discord or whitelisted link, else ``CordvaultError(INVALID_LINK)``."""
    if not isinstance(link, str) or not link or len(link) > 8192:
        raise _invalid()
    try:
        parts = urlsplit(link)
    except ValueError:
        raise _invalid() from None
    upns = parse_qs(parts.query).get("upn", [])
    # The same rule the downloader enforces (prefix AND same host/port), so a link accepted here
    # is never refused later for being outside its prefix.
    if allowed_by_prefix(link, prefixes):
        if upns and upns[0]:
            return PackageLink(link, upns[0])
        path = parts.path.replace("/", "")
        if not path:
            raise _invalid()
        return PackageLink(link, base64.b64encode(path.encode()).decode())
    if (
        parts.scheme == "https"
        and parts.hostname == _DISCORD_HOST
        and parts.port is None
        and parts.path == "/ls/click"
        and len(upns) == 1
        and _UPN.fullmatch(upns[0])
    ):
        return PackageLink(link, upns[0])
    raise _invalid()


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None if absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def bearer_matches(upn: str | None, package_id: str) -> bool:
    """Whether ``md5(upn) == package_id`` (constant-time compare)."""
    if not upn:
        return False
    return hmac.compare_digest(package_id_for(upn), package_id)


def _invalid() -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_LINK, "not a Discord data package link")
