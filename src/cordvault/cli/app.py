"""The ``cordvault`` command: root Typer app and the single error boundary of the CLI.

Each domain adds its commands in its own module (``cli/insights.py``, ``cli/drive.py`` ...),
registered in :func:`build_app`. Commands raise :class:`CordvaultError`; :func:`main` turns it
into ``error CODE: message`` on stderr and the code's exit status, never a traceback; a usage
error (missing or bad argument, unknown command or option) is shown as Click shows it, exit 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from types import ModuleType

import typer
from rich.console import Console

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode

err_console = Console(stderr=True)
log = logging.getLogger(__name__)


def build_app() -> typer.Typer:
    """Assemble the root app from the per-domain command modules."""
    from cordvault.cli import insights

    app = typer.Typer(
        name="cordvault",
        help="Control your Discord data: package insights and an encrypted Discord-backed drive.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.command()
    def version() -> None:
        """Print the cordvault version."""
        typer.echo(f"cordvault {cordvault.__version__}")

    insights.register(app)
    for module_name in ("dev", "server", "drive", "discord", "operations"):
        module = _optional_module(module_name)
        if module is not None:
            module.register(app)
    return app


def _optional_module(name: str) -> ModuleType | None:
    """A domain's CLI module, or None while that domain has no commands yet."""
    full = f"cordvault.cli.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    return importlib.import_module(full)


def report_error(exc: CordvaultError) -> None:
    """Print a CordvaultError the way every command does."""
    err_console.print(f"[bold red]error {exc.code}[/]: {exc.message}", highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app = build_app()
    try:
        # Without standalone mode click returns ``typer.Exit(n)``'s code instead of exiting.
        result = app(args=argv, standalone_mode=False)
    except CordvaultError as exc:
        report_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:
        # Click's usage errors (Typer bundles Click): a missing or bad argument, an unknown
        # command or option. Shown as Click shows them (usage line, hint, what was wrong),
        # with Click's status (2 for usage errors).
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"Error: {exc.message}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        # An unexpected failure is a bug: say so plainly, keep the traceback for DEBUG_LOGGING.
        log.debug("unexpected error", exc_info=True)
        report_error(CordvaultError(ErrorCode.UNKNOWN_ERROR, f"unexpected {type(exc).__name__}"))
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
