"""How a served file presents itself to a browser: ``Content-Type`` and ``Content-Disposition``.

Both depend only on the file's name (the drive stores no trusted type from the uploader), and
both are built so that no name, however hostile, can break the header or the page:

- :func:`media_type_for` maps the extension through Python's *built-in* table (never the
  machine's ``/etc/mime.types``, so every server answers the same) plus a few common types that
  table lacks. A compression suffix wins (``x.tar.gz`` is ``application/gzip``: announcing the
  inner tar would let a browser transparently unpack it and save the wrong bytes).
- :func:`content_disposition` follows RFC 6266 / RFC 8187: an ASCII ``filename="..."`` fallback
  with quotes, backslashes, ``;``, control characters and non-ASCII replaced, plus the exact name
  as ``filename*=UTF-8''<percent-encoded>``. Over-long names are shortened (keeping the
  extension) so the header stays far below server and client header limits.
- :func:`disposition_type` refuses ``inline`` for types a browser would *execute* on our origin
  (HTML, SVG, XML, JavaScript): those are always sent as attachments.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

_BUILTIN_TYPES = mimetypes.MimeTypes()

# Common extensions missing from Python's built-in table (it only reads the system's files when
# `mimetypes.init()` runs, which would make answers machine-dependent).
_EXTRA_TYPES: dict[str, str] = {
    ".7z": "application/x-7z-compressed",
    ".apk": "application/vnd.android.package-archive",
    ".epub": "application/epub+zip",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".md": "text/markdown",
    ".mkv": "video/x-matroska",
    ".ogg": "audio/ogg",
    ".rar": "application/vnd.rar",
    ".webm": "video/webm",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}

# What to announce when the name ends in a compression suffix (`mimetypes` reports those as an
# "encoding" of the inner type).
_ENCODING_TYPES: dict[str, str] = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}

# Types a browser renders as active content on our origin: never inline (stored XSS otherwise).
_ACTIVE_TYPES = re.compile(
    r"^(text/html|application/xhtml\+xml|image/svg\+xml|text/xml|application/xml|"
    r"text/javascript|application/javascript|application/x-javascript|text/xsl)$"
)

FALLBACK_MEDIA_TYPE = "application/octet-stream"
FALLBACK_FILENAME = "download"
MAX_FILENAME_BYTES = 255
"""Longest name (UTF-8 bytes) put in the header; longer names are cut, keeping the extension."""

_UNSAFE_ASCII = re.compile(r'[\x00-\x1f\x7f"\\;%]')


def media_type_for(filename: str | None) -> str:
    """The ``Content-Type`` for ``filename``; ``application/octet-stream`` when unknown."""
    if not filename:
        return FALLBACK_MEDIA_TYPE
    name = filename.strip().lower()
    media_type, encoding = _BUILTIN_TYPES.guess_type(name, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, FALLBACK_MEDIA_TYPE)
    if media_type is None:
        dot = name.rfind(".")
        media_type = _EXTRA_TYPES.get(name[dot:]) if dot >= 0 else None
    return media_type or FALLBACK_MEDIA_TYPE


def is_active_media_type(media_type: str) -> bool:
    """True for types a browser would execute (script-capable documents)."""
    return bool(_ACTIVE_TYPES.match(media_type.split(";", 1)[0].strip().lower()))


def disposition_type(media_type: str, inline: bool) -> str:
    """``inline`` only when asked for and safe for ``media_type``; else ``attachment``."""
    return "inline" if inline and not is_active_media_type(media_type) else "attachment"


def content_disposition(filename: str | None, *, inline: bool, media_type: str = "") -> str:
    """The ``Content-Disposition`` value for serving ``filename``.

    ``filename=None`` gives the bare type. The result is pure ASCII without CR/LF, so it is
    always a valid header value.
    """
    kind = disposition_type(media_type, inline) if media_type else _kind(inline)
    if filename is None:
        return kind
    name = _shorten(_clean(filename))
    if not name:
        return f'{kind}; filename="{FALLBACK_FILENAME}"'
    fallback = _ascii_fallback(name)
    encoded = quote(name, safe="")
    if fallback == name:
        return f'{kind}; filename="{fallback}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _kind(inline: bool) -> str:
    return "inline" if inline else "attachment"


def _clean(filename: str) -> str:
    """NFC-normalise and drop control characters (CR/LF/NUL never reach a header)."""
    name = unicodedata.normalize("NFC", filename)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    # Path separators are not part of a download name (browsers would replace them anyway).
    return name.replace("/", "_").replace("\\", "_").strip()


def _shorten(name: str) -> str:
    """Cut ``name`` to :data:`MAX_FILENAME_BYTES` UTF-8 bytes, keeping a short extension."""
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 and len(name) - dot <= 16 else ""
    budget = MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
    stem = name[: len(name) - len(ext)].encode("utf-8")[:budget].decode("utf-8", "ignore")
    return stem + ext


def _ascii_fallback(name: str) -> str:
    """An ASCII, quoted-string-safe approximation of ``name`` (accents stripped, rest -> ``_``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(
        ch if ch.isascii() else "_" for ch in decomposed if not unicodedata.combining(ch)
    )
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip()
    return ascii_name or FALLBACK_FILENAME
