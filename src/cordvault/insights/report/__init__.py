"""The self-contained HTML insights report (and the CLI summary) read from an insights SQLite.

Public API: :func:`render_report` writes one offline HTML file; :func:`report_summary` returns
label/value rows for the CLI's summary table.
"""

from cordvault.insights.report.render import render_report, report_summary

__all__ = ["render_report", "report_summary"]
