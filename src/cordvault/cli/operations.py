"""Operations commands: ``cordvault backup`` / ``restore`` (the database) and
``cordvault drive recover`` (rebuild the database from the storage backend alone).

``docs/operations.md`` describes when to use which and what must be kept with a backup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import load_settings, require

out = Console()


def add_drive_commands(app: typer.Typer) -> None:
    """Add ``recover`` to the ``drive`` group."""

    @app.command("recover")
    def recover(
        store_path: Annotated[
            Path | None,
            typer.Option("--store-path", help="Local chunk store directory (local backend)."),
        ] = None,
        channel_ids: Annotated[
            str | None,
            typer.Option("--channel-ids", help="Comma-separated Discord channel ids."),
        ] = None,
    ) -> None:
        """Rebuild an empty database from the storage backend alone: the newest valid
        catalog snapshot, then its journal. Needs MESSAGE_ENCRYPTION_KEY (and, for Discord,
        DISCORD_BOT_TOKEN)."""
        from cordvault.drive.catalog.records import CatalogKeys
        from cordvault.drive.catalog.recover import recover as run_recover
        from cordvault.runtime import build_services
        from cordvault.storage.base import NamedChunkStore

        overrides: dict[str, Any] = {}
        if store_path is not None and channel_ids is not None:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "give --store-path or --channel-ids, not both"
            )
        if store_path is not None:
            overrides = {"storage_backend": "local", "storage_path": store_path}
        elif channel_ids is not None:
            overrides = {"storage_backend": "discord", "discord_channel_ids": channel_ids}
        settings = load_settings(**overrides)
        require(settings, "message_encryption_key")
        with build_services(settings) as services:
            store = services.drive.store
            if not isinstance(store, NamedChunkStore):
                raise CordvaultError(ErrorCode.INVALID_SETTINGS, "this store has no catalog")
            report = run_recover(services.engine, store, CatalogKeys(services.drive.keyring))
        for warning in report.warnings:
            out.print(f"[yellow]warning[/]: {warning}", highlight=False)
        out.print(
            f"restored epoch {report.epoch}: snapshot {report.snapshot_seq} "
            f"({report.snapshot_created_at}) + {report.journals_applied} journal record(s), "
            f"changes up to {report.restored_up_to}",
            highlight=False,
        )
        for table, count in report.rows.items():
            out.print(f"  {table}: {count} row(s)", highlight=False)
        out.print(
            f"scanned {report.objects_scanned} stored objects, {report.records_found} "
            f"catalog record(s)",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore``."""

    @app.command()
    def backup(output: Path) -> None:
        """Write a consistent copy of the database to OUTPUT (SQLite backup API, or
        pg_dump's custom format). Keep the master key with it: see docs/operations.md."""
        from cordvault.db.backup import backup as run_backup

        settings = load_settings()
        size = run_backup(settings.effective_database_url, output)
        out.print(f"wrote {output} ({size} bytes)", highlight=False)

    @app.command()
    def restore(
        source: Path,
        yes: Annotated[bool, typer.Option("--yes", help="Replace the database's content.")] = False,
    ) -> None:
        """Replace the database with the backup SOURCE (stop the servers first), then
        apply migrations."""
        from cordvault.db import migrate
        from cordvault.db.backup import restore as run_restore

        if not yes:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, "restore replaces the database: confirm with --yes"
            )
        settings = load_settings()
        run_restore(settings.effective_database_url, source)
        migrate(settings.effective_database_url)
        out.print(f"restored {source}", highlight=False)
