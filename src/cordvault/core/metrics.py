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
#: Bounds of ``cordvault_job_step_duration_seconds``. That histogram is not a process
#: counter: whoever runs a job (API process or Celery worker) adds each step to a database
#: table and every API process exports the table (``insights/jobs/repository.py``).
JOB_STEP_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
DISCORD_REQUESTS = Counter(
    "cordvault_discord_requests_total",
    "Discord HTTP requests sent, by route template (``POST /channels/{channel_id}/messages``, "
    "``GET cdn attachment``) and answer status (``transport`` when none came).",
    ["route", "status"],
)
DISCORD_RATE_LIMITED = Counter(
    "cordvault_discord_rate_limited_total",
    "Discord 429 answers received, by route template.",
    ["route"],
)
DISCORD_RETRIES = Counter(
    "cordvault_discord_retries_total",
    "Discord requests repeated after a 429, a 5xx or a transport failure, by route template.",
    ["route"],
)
STORAGE_BYTES = Counter(
    "cordvault_storage_bytes_total",
    "Chunk bytes moved through a storage backend (local, discord), by direction "
    "(uploaded, downloaded).",
    ["backend", "direction"],
)
SIGNIN_ALERTS = Counter(
    "cordvault_signin_alerts_total",
    "Sign-in alerts: an account crossed DRIVE_LOGIN_ALERT_FAILURES failures within the window "
    "across all clients (never a lock; details in the security log, kind signin.alert).",
)
URL_CACHE_LOOKUPS = Counter(
    "cordvault_discord_url_cache_lookups_total",
    "Lookups of signed attachment URLs in the Discord backend's cache, by result (hit, miss).",
    ["result"],
)
