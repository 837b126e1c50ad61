"""Insights commands: ``analyze`` a package offline, ``dev gen-package`` for test data."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the insights commands to the root app."""
    dev = typer.Typer(help="Developer tools (synthetic data, diagnostics).", no_args_is_help=True)
    app.add_typer(dev, name="dev")
