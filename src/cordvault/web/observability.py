"""Request ids, per-route latency and ``GET /metrics`` (Prometheus text format).

:class:`Observe` (pure ASGI, outermost): each HTTP request gets an id - the client's
``X-Request-ID`` when it is 1..64 characters of ``[A-Za-z0-9._-]``, else a fresh random one -
set in :data:`cordvault.core.logs.REQUEST_ID` for every log line written while serving it (and
sent to Celery with the jobs it wakes), and echoed in the ``X-Request-ID`` answer header. The
time until the response starts is observed in ``cordvault_http_request_duration_seconds``
labelled by the matched route's *template* (``/api/drive/files/{file_id}``; ``unmatched`` when
no route matched), never by the raw path: ids and tokens are in paths.

``GET /metrics`` is installed only when ``METRICS_TOKEN`` is set and requires
``Authorization: Bearer <token>`` (compared in constant time; 401 otherwise). Besides the
process's counters it reports cluster-wide values read from the shared database: jobs by
state, the queue depth per queue, the job step duration histogram (written by whichever
process ran the job: an API process or a Celery worker) and the drive's garbage backlog.
Every API process reports the same values; they are read in a few bounded queries and reused
for ``METRICS_CACHE_SECONDS``, so frequent scrapes of many processes cost the database little.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import REQUEST_ID
from cordvault.core.metrics import HTTP_SECONDS, JOB_STEP_BUCKETS
from cordvault.drive.gc import backlog
from cordvault.insights.jobs.repository import counts_by_state, queue_counts, step_histograms
from cordvault.runtime import Services

_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Observe:
    """Request id + latency by route template (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        text = given.decode("latin-1")
        request_id = text if _GOOD_ID.fullmatch(text) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
                _observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    HTTP_SECONDS.labels(scope.get("method", ""), template, str(status)).observe(seconds)


class _StateCollector(Collector):
    """Cluster-wide values read from the shared database (the same in every process), reused
    for ``METRICS_CACHE_SECONDS``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.ttl = services.settings.metrics_cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, Sequence[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one reader at a time: concurrent scrapes share one read
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.ttl:
                self._cached = (now, self._read())
            families = self._cached[1]
        yield from families

    def _read(self) -> list[Metric]:
        jobs = GaugeMetricFamily("cordvault_jobs", "Insights jobs by state.", labels=["state"])
        with self.services.jobs.sessions() as db:
            for state, count in sorted(counts_by_state(db).items()):
                jobs.add_metric([state], count)
            counts = queue_counts(db)
            histograms = step_histograms(db, JOB_STEP_BUCKETS)
        depth = GaugeMetricFamily(
            "cordvault_queue_depth",
            "Unfinished insights jobs (queued or running) per queue; a job's position is at "
            "most its queue's depth.",
            labels=["queue"],
        )
        depth.add_metric(["premium"], counts.premium)
        depth.add_metric(["standard"], counts.standard)
        steps = HistogramMetricFamily(
            "cordvault_job_step_duration_seconds",
            "Time insights jobs spent in each processing step, cluster-wide (recorded in the "
            "database by whichever process ran the job).",
            labels=["step"],
        )
        for histogram in histograms:
            steps.add_metric(
                [histogram.step],
                [(le, float(count)) for le, count in histogram.buckets],
                sum_value=histogram.sum_seconds,
            )
        gc = GaugeMetricFamily(
            "cordvault_drive_gc_backlog",
            "Stored chunks waiting in the drive's garbage queue.",
            value=backlog(self.services.drive),
        )
        return [jobs, depth, steps, gc]

    def describe(self) -> list[Metric]:
        return []  # collected lazily: nothing runs at registration


def install(app: FastAPI, services: Services) -> None:
    """Add the request-id/latency middleware and, with ``METRICS_TOKEN``, ``/metrics``."""
    app.add_middleware(Observe)
    secret = services.settings.metrics_token
    if secret is None:
        return
    expected = secret.get_secret_value().encode()
    collector = _StateCollector(services)
    REGISTRY.register(collector)
    app.state.metrics_collector = collector

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), expected):
            raise CordvaultError(ErrorCode.UNAUTHORIZED, "a valid metrics token is required")
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def uninstall(app: FastAPI) -> None:
    """Unregister the app's database collector (at shutdown; tests build many apps)."""
    collector = getattr(app.state, "metrics_collector", None)
    if collector is not None:
        REGISTRY.unregister(collector)
        app.state.metrics_collector = None
