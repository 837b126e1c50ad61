"""Server commands: ``serve`` (the API), ``worker`` (a Celery worker), ``upgrade`` (admin).

``serve`` hands uvicorn the web adapter's factory by name and ``worker`` replaces this process
with the worker adapter (``python -m cordvault.worker``): adapters never import each other,
the CLI only starts the processes the other adapters run in. Both long-running commands start
with a private umask (0077): the data dir, database files, blobs, chunks and temp files are
readable by the server's user only.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cordvault.core.settings import Settings

APP_FACTORY = "cordvault.web.app:app_from_env"
# uvicorn's httptools protocol with each TCP connection's unsent queue capped, so the event
# loop's socket writes stop holding the GIL for MiBs while download pieces are decrypted in
# threads (web/transport.py says why and what it measured). Named, not imported: the CLI
# does not import the web adapter.
HTTP_PROTOCOL = "cordvault.web.transport:HttpProtocol"


def run_server(
    app: FastAPI | str,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
) -> None:
    """Serve ``app`` (an app, or an import string of a factory) the way ``cordvault serve`` does.

    Private umask; after SIGTERM/SIGINT requests still running get ``SHUTDOWN_GRACE_SECONDS``
    before uvicorn cancels them, and the app's shutdown watchdog (``core/process.py``) ends the
    process shortly after if threads are stuck. Options: :func:`uvicorn_options`.
    """
    import uvicorn

    from cordvault.core.process import restrict_umask

    restrict_umask()
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options every server shares (tests that run uvicorn in a thread use them).

    No access log: blob URLs carry signatures in their query string. ``X-Forwarded-*`` are
    believed only from ``TRUSTED_PROXIES`` (never by default, whereas uvicorn's own default
    trusts 127.0.0.1); the app applies the same rule to the client address
    (``drive/clients.py``), so the two agree."""
    trusted = [str(n) for n in settings.trusted_proxy_networks]
    return {
        "access_log": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "http": HTTP_PROTOCOL,
        # WebSocket frames are read whole: bound them (the live adapter answers packets over
        # LIVE_MAX_PACKET_BYTES with PACKET_TOO_LARGE; far larger ones are cut here, 1009).
        "ws_max_size": 4 * settings.live_max_packet_bytes,
        # websockets' Sans-I/O protocol (uvicorn's choice when websockets is installed: no task
        # or stream per connection, frames written straight to the transport; wsproto is not
        # installed). No permessage-deflate: live packets are small JSON, and compressing
        # every frame for every socket (and inflating it in every client) cost more CPU than
        # everything else in a fan-out to 1,000 sockets.
        "ws": "websockets-sansio",
        "ws_per_message_deflate": False,
    }


def register(app: typer.Typer) -> None:
    """Add the server commands to the root app."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
        workers: int = typer.Option(1, help="API processes (each runs its own job queue)."),
    ) -> None:
        """Run the HTTP API (Dumpus-compatible Insights routes; docs at /docs)."""
        from cordvault.core.settings import load_settings

        settings = load_settings()  # fail fast, with every bad setting named, before forking
        run_server(APP_FACTORY, settings, host=host, port=port, workers=workers)

    @app.command()
    def worker(
        concurrency: int = typer.Option(1, help="Jobs this worker runs at once."),
        loglevel: str = typer.Option("INFO", help="Celery log level."),
        queues: str = typer.Option(
            "premium,standard,previews",
            help="Queues to consume: premium,standard (insights packages), previews (thumbnails).",
        ),
    ) -> None:
        """Run a Celery worker for package jobs and thumbnails (needs BROKER_URL)."""
        from cordvault.core.process import restrict_umask
        from cordvault.core.settings import load_settings, require

        require(load_settings(), "broker_url")  # fail here, with the CLI's error format
        restrict_umask()  # inherited through exec
        argv = [sys.executable, "-m", "cordvault.worker"]
        argv += ["--concurrency", str(concurrency), "--loglevel", loglevel, "--queues", queues]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter and module

    @app.command()
    def upgrade(package_id: str = typer.Argument(..., help="The package id (md5 hex).")) -> None:
        """Move a package to the premium queue (admin; acts on the database directly)."""
        from cordvault.core.settings import load_settings
        from cordvault.insights.jobs import service
        from cordvault.runtime import build_services

        with build_services(load_settings()) as services, services.jobs.sessions.begin() as db:
            service.upgrade(db, package_id)
        typer.echo(f"{package_id}: upgraded to the premium queue")
