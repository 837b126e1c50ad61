"""Insights commands: ``analyze`` a package offline."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the insights commands to the root app."""
    _ = app
