"""The self-contained HTML insights report and the CLI's summary rows.

The page is one file that works offline: CSS, JavaScript and SVG charts are inlined, avatars
are initials (no CDN image), and a Content-Security-Policy forbids every network fetch, so even a
missed reference could not leak that the report was opened. Every user-controlled string
(names, descriptions, OS strings) goes through Jinja2 autoescaping or pygal's XML escaping.

Error contract: as :func:`cordvault.insights.report.queries.load_report_data`; the output is
written to a temporary file beside ``out_html`` and renamed
(:func:`cordvault.core.files.atomic_write`), so a failure leaves no partial page.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from cordvault import __version__
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.files import atomic_write
from cordvault.insights.report import charts
from cordvault.insights.report.money import format_amount
from cordvault.insights.report.queries import ReportData, load_report_data

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cordvault.insights.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: int) -> str:
    return f"{value:,}"


def _hours(minutes: int) -> str:
    return f"{minutes / 60:,.1f} h"


def _initials(name: str) -> str:
    """Up to two letters standing in for an avatar (``"Ada Lovelace"`` -> ``"AL"``)."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or name[:1] or "?"
    return letters.upper()


def _hue(key: str) -> int:
    """A stable colour per id, so the same person keeps the same avatar colour."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:4], 16) % 360


def _percent(value: int, top: int) -> float:
    return round(100 * value / top, 1) if top > 0 else 0.0


_ENV.filters.update(number=_number, hours=_hours, initials=_initials, hue=_hue)
_ENV.globals.update(percent=_percent, amount=format_amount)


def _notes(data: ReportData) -> list[str]:
    """Plain-language notes on what the package lacked or what was skipped."""
    notes: list[str] = []
    if data.owner.is_partial:
        missing = data.missing_sections
        if missing:
            notes.append(
                "This package is partial: it has no "
                + ", ".join(missing)
                + " section, so the figures that come from it are missing or zero."
            )
        else:
            notes.append("This package is partial: some sections were missing or empty.")
    meta = data.meta
    counters = (
        ("malformed_messages", "message rows could not be read and were skipped"),
        ("malformed_lines", "analytics lines were not valid JSON and were skipped"),
        ("analytics_lines_skipped", "analytics lines had no event type and were skipped"),
        ("channels_without_metadata", "message folders had no channel.json and were skipped"),
    )
    for key, text in counters:
        try:
            count = int(meta.get(key, "0") or 0)
        except ValueError:
            continue
        if count:
            notes.append(f"{count:,} {text}.")
    if meta.get("analytics_files") == "0":
        notes.append(
            "The package has no analytics files: sessions, voice time and app activity are empty."
        )
    if not meta:
        notes.append(
            "This database has no cordvault_meta table (written by another tool): "
            "nothing is known about skipped data."
        )
    return notes


def report_summary(sqlite_path: Path) -> list[tuple[str, str]]:
    """Label/value rows for the CLI summary table (values are plain, unescaped text)."""
    data = load_report_data(sqlite_path, summary_only=True)
    return _summary_rows(data)


def _summary_rows(data: ReportData) -> list[tuple[str, str]]:
    owner = data.owner
    rows: list[tuple[str, str]] = []
    if owner.name:
        who = owner.name + (f" ({owner.display_name})" if owner.display_name else "")
        rows.append(("Account", who))
    rows.append(("Messages", _number(data.messages)))
    if data.first_day and data.last_day:
        rows.append(("Date range", f"{data.first_day} to {data.last_day}"))
    rows += [
        ("DMs", _number(data.dm_count)),
        ("Group DMs", _number(data.group_dm_count)),
        ("Servers", _number(data.guild_count)),
        ("Channels", _number(data.channel_count)),
        ("Voice", f"{_hours(data.voice_minutes)} in {_number(data.voice_sessions)} calls"),
        ("Sessions", f"{_number(data.session_count)} ({_hours(data.session_minutes)})"),
    ]
    if data.spending:
        for spend in data.spending:
            rows.append(
                (
                    f"Spent ({spend.currency.upper()})",
                    f"{format_amount(spend.amount_minor, spend.currency)}"
                    f" in {_number(spend.payments)} payment{'s' if spend.payments != 1 else ''}",
                )
            )
    else:
        rows.append(("Spent", "nothing"))
    rows.append(("Partial package", "yes" if owner.is_partial else "no"))
    return rows


def render_report(sqlite_path: Path, out_html: Path) -> None:
    """Write the one-file HTML report for the insights database at ``sqlite_path``."""
    if not out_html.parent.is_dir():
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the report's output folder does not exist")
    data = load_report_data(sqlite_path)
    html = _ENV.get_template("report.html").render(
        data=data,
        summary=_summary_rows(data),
        notes=_notes(data),
        chart_month=charts.messages_per_month(data.per_month),
        chart_hour=charts.messages_by_hour(data.per_hour),
        chart_os=charts.sessions_by_os(data.sessions_by_os),
        chart_voice=charts.voice_hours(data.top_voice),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
    atomic_write(out_html, html.encode("utf-8"))
