"""Server commands: ``serve`` (the API), ``worker`` (a Celery worker), ``upgrade`` (admin).

``serve`` hands uvicorn the web adapter's factory by name and ``worker`` replaces this process
with the worker adapter (``python -m cordvault.worker``): adapters never import each other,
the CLI only starts the processes the other adapters run in.
"""

from __future__ import annotations

import os
import sys

import typer


def register(app: typer.Typer) -> None:
    """Add the server commands to the root app."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
        workers: int = typer.Option(1, help="API processes (each runs its own job queue)."),
    ) -> None:
        """Run the HTTP API (Dumpus-compatible Insights routes; docs at /docs)."""
        import uvicorn

        from cordvault.core.settings import load_settings

        load_settings()  # fail fast, with every bad setting named, before forking
        # No access log: blob URLs carry signatures in their query string.
        uvicorn.run(
            "cordvault.web.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            proxy_headers=True,
        )

    @app.command()
    def worker(
        concurrency: int = typer.Option(1, help="Jobs this worker runs at once."),
        loglevel: str = typer.Option("INFO", help="Celery log level."),
    ) -> None:
        """Run a Celery worker for package jobs (needs BROKER_URL)."""
        from cordvault.core.settings import load_settings, require

        require(load_settings(), "broker_url")  # fail here, with the CLI's error format
        argv = [sys.executable, "-m", "cordvault.worker"]
        argv += ["--concurrency", str(concurrency), "--loglevel", loglevel]
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
