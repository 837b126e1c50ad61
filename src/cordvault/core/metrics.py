"""Prometheus metrics shared by every layer (``prometheus-client``'s default registry).

Served by ``GET /metrics`` (``web/metrics.py``) when ``METRICS_TOKEN`` is set. Labels are
always from small, fixed sets - route *templates* (``/api/drive/files/{file_id}``), never raw
paths (ids and tokens are in paths), never user input or secrets. Each process has its own
counters (several ``cordvault serve`` processes are scraped one by one, see
``docs/operations.md``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_SECONDS = Histogram(
    "cordvault_http_request_duration_seconds",
    "HTTP request latency until the response started, by route template.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CATALOG_RECORDS = Counter(
    "cordvault_drive_catalog_records_total",
    "Disaster-recovery catalog records stored, by kind (snapshot, journal).",
    ["kind"],
)
CATALOG_LAST_SUCCESS = Gauge(
    "cordvault_drive_catalog_last_record_timestamp_seconds",
    "Unix time of the last catalog record this process stored.",
)
