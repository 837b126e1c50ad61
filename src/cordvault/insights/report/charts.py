"""The report's charts: static inline SVG rendered by pygal.

Why pygal: it renders charts server-side to plain SVG (no JavaScript needed to draw, nothing
fetched), the SVG carries its own scoped CSS, and it builds the SVG with ElementTree, so every
label (user-controlled channel names, OS strings) is XML-escaped by construction. The one
thing pygal normally loads from the network, its tooltip script, is switched off (``js=[]``);
``report.js`` adds native tooltips from the values pygal embeds instead.

Each function returns :class:`markupsafe.Markup` (safe to put into the page unescaped, because
pygal escaped it) or ``None`` when there is nothing to draw, so the page can say so in words.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.etree import etree as pygal_etree
from pygal.style import Style

from cordvault.insights.report.queries import OsUsage, Ranked

# pygal appends a legacy ``sys.meta_path`` finder (for map plugins, which we do not use) that
# has no ``find_spec``: code that walks ``sys.meta_path`` with the modern protocol (importlib
# consumers such as pytest's importlib mode) then fails with AttributeError. Remove it.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"
]
# pygal builds its trees with lxml whenever lxml is importable (WebDAV brings it); the report
# is serialised, sanitised and tested with the standard library's ElementTree: use that.
pygal_etree.to_etree()

# System fonts only: a pygal style using "googlefont:" would @import from the network.
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#3b4252",
    foreground_strong="#1f2430",
    foreground_subtle="#8a93a6",
    opacity=".9",
    opacity_hover="1",
    transition="150ms",
    colors=("#5865f2", "#3ba55d", "#faa81a", "#ed4245", "#eb459e", "#00a8fc"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=12,
    tooltip_font_size=13,
)


def _config(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "js": [],  # never reference the pygal.js CDN
        "disable_xml_declaration": True,
        "show_legend": False,
        "style": _STYLE,
        "width": 860,
        "height": 320,
        "margin": 10,
        "print_values": False,
        "value_formatter": lambda v: f"{v:,.0f}",
        "truncate_label": 28,
    }
    base.update(extra)
    return base


def _svg(chart: Any) -> Markup:
    """Serialise the chart without pygal's ``<script>`` and comments.

    The script only feeds pygal's (absent) tooltip library and repeats every label inside
    JavaScript; the comments carry pygal's home page URLs. Neither belongs in a private,
    offline report, so they are removed from the element tree before serialising.
    """
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag is ElementTree.Comment or str(child.tag).endswith("script"):
                parent.remove(child)
    svg = ElementTree.tostring(root, encoding="unicode")
    return Markup(svg)  # noqa: S704 - ElementTree escaped every label and attribute


def messages_per_month(per_month: Sequence[tuple[str, int]]) -> Markup | None:
    """Bar per calendar month (YYYY-MM)."""
    if not per_month or not any(count for _, count in per_month):
        return None
    every = max(1, len(per_month) // 12)
    chart = pygal.Bar(
        **_config(
            x_label_rotation=-45 if len(per_month) > 12 else 0,
            show_minor_x_labels=False,
            x_labels_major_every=every,
            spacing=2,
        )
    )
    chart.x_labels = [month for month, _ in per_month]
    chart.add("Messages", [count for _, count in per_month])
    return _svg(chart)


def messages_by_hour(per_hour: Sequence[int]) -> Markup | None:
    """Bar per UTC hour of the day (0-23)."""
    if not any(per_hour):
        return None
    chart = pygal.Bar(**_config(spacing=3, height=260))
    chart.x_labels = [f"{h:02d}" for h in range(24)]
    chart.add("Messages", list(per_hour))
    return _svg(chart)


def sessions_by_os(usage: Sequence[OsUsage]) -> Markup | None:
    """Horizontal bars: sessions per device OS."""
    if not usage:
        return None
    chart = pygal.HorizontalBar(**_config(height=max(140, 44 * len(usage) + 60), spacing=6))
    # pygal stacks horizontal bars bottom-up: reverse so the largest is drawn on top.
    chart.x_labels = [u.os for u in reversed(usage)]
    chart.add("Sessions", [u.sessions for u in reversed(usage)])
    return _svg(chart)


def voice_hours(top: Sequence[Ranked]) -> Markup | None:
    """Horizontal bars: hours in each of the top voice channels."""
    if not top:
        return None
    chart = pygal.HorizontalBar(
        **_config(
            height=max(140, 40 * len(top) + 60),
            spacing=6,
            value_formatter=lambda v: f"{v:,.1f} h",
        )
    )
    chart.x_labels = [r.label for r in reversed(top)]
    chart.add("Hours", [round(r.minutes / 60, 1) for r in reversed(top)])
    return _svg(chart)
