"""Server commands: ``serve`` (the API), ``worker`` (a Celery worker), ``upgrade`` (admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the environment, every domain installed."""
    from cordvault.core.allocator import tune_allocator
    from cordvault.core.settings import load_settings
    from cordvault.web.app import create_app

    # Before any thread allocates: malloc arena and mmap thresholds that keep the server's
    # memory flat across multi-GB transfers (see tune_allocator).
    tune_allocator()
    return create_app(load_settings())


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
            "cordvault.cli.server:app_from_env",
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
        from cordvault.core.logs import configure_logging
        from cordvault.core.settings import load_settings, require
        from cordvault.worker.tasks import run_worker

        settings = load_settings()
        require(settings, "broker_url")
        configure_logging(settings.debug_logging)
        run_worker(settings, concurrency=concurrency, loglevel=loglevel)

    @app.command()
    def upgrade(package_id: str = typer.Argument(..., help="The package id (md5 hex).")) -> None:
        """Move a package to the premium queue (admin; acts on the database directly)."""
        from cordvault.core.settings import load_settings
        from cordvault.db import make_sessionmaker, migrate
        from cordvault.insights.jobs import service
        from cordvault.worker.context import open_engine

        settings = load_settings()
        url = settings.effective_database_url
        migrate(url)
        engine = open_engine(url)
        try:
            with make_sessionmaker(engine).begin() as session:
                service.upgrade(session, package_id)
        finally:
            engine.dispose()
        typer.echo(f"{package_id}: upgraded to the premium queue")
