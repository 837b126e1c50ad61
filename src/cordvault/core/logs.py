"""Logging setup: levels, colours on a TTY, and a filter that keeps secrets out.

``DEBUG_LOGGING=1`` switches the level to DEBUG. httpx/httpcore log full URLs (signed CDN links,
webhook URLs are credentials), so they are held at WARNING. :class:`RedactingFilter` is a second
line of defence: values registered with :func:`register_secret` are replaced by ``[redacted]``
in every record; the first line is never passing secrets to a logger at all.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
"""The id of the request being served (set by ``web/observability.py``; worker threads started
with ``asyncio.to_thread`` inherit it). Every log record carries it as ``request_id``."""
_secrets: set[str] = set()
_lock = threading.Lock()
_URL_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")

_COLOURS = {
    logging.DEBUG: "\x1b[2m",
    logging.INFO: "\x1b[36m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}


def register_secret(value: str) -> None:
    """Never let ``value`` appear in a log line (ignored when shorter than 8 characters)."""
    if len(value) >= 8:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and strip query strings (signatures, tokens) from URLs."""
    text = _URL_QUERY.sub(r"\1?[redacted]", text)
    with _lock:
        for secret in _secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's rendered message through :func:`redact` and stamps it with the
    current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _Formatter(logging.Formatter):
    def __init__(self, colour: bool) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if self.colour:
            return f"{_COLOURS.get(record.levelno, '')}{line}\x1b[0m"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (``LOG_FORMAT=json``).

    The message is already redacted by :class:`RedactingFilter` (the handler's filter); the
    exception text, if any, goes through :func:`redact` here.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(debug: bool = False, stream: object = None, fmt: str = "text") -> None:
    """Install the root handler once (idempotent; later calls only change the level).

    ``fmt``: ``text`` (coloured on a TTY) or ``json`` (one object per line)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not any(getattr(h, "_cordvault", False) for h in root.handlers):
        out = stream if stream is not None else sys.stderr
        handler = logging.StreamHandler(out)  # type: ignore[arg-type]
        colour = bool(getattr(out, "isatty", lambda: False)())
        formatter = JsonFormatter() if fmt == "json" else _Formatter(colour=colour)
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handler._cordvault = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
