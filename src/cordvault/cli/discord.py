"""Discord commands: ``discord doctor`` (check the storage setup) and ``discord emulator``.

Commands only parse options and render; the checks live in
:mod:`cordvault.storage.discord.doctor` and the emulator in :mod:`cordvault.discord.emulator`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cordvault.core.settings import load_settings

if TYPE_CHECKING:
    from cordvault.storage.discord.doctor import Check

_STYLE = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def register(app: typer.Typer) -> None:
    """Add the ``discord`` command group to the root app."""
    group = typer.Typer(help="Discord storage tools", no_args_is_help=True)

    @group.command()
    def doctor(
        size_check: Annotated[
            bool,
            typer.Option(
                help="Upload one attachment of DISCORD_MAX_FILE_BYTES per token to prove the "
                "limit (disable on slow links)."
            ),
        ] = True,
    ) -> None:
        """Check the token(s), each channel's permissions, the size limit and a round trip."""
        # Imported here: every other command would otherwise pay for the storage stack.
        from cordvault.storage.discord.doctor import run_doctor

        settings = load_settings()
        console = Console()
        console.print(f"Discord API: {settings.discord_api_base}", highlight=False)

        def show(check: Check) -> None:
            where = f"bot {check.bot}" + (f" #{check.channel_id}" if check.channel_id else "")
            console.print(f"  {_STYLE[check.status]} {where}: {check.name}", highlight=False)

        report = run_doctor(settings, size_check=size_check, progress=show)
        table = Table(title="Discord storage doctor")
        for column in ("bot", "channel", "check", "status", "detail"):
            table.add_column(column)
        for check in report.checks:
            table.add_row(
                str(check.bot),
                check.channel_id or "-",
                check.name,
                _STYLE[check.status],
                check.detail,
            )
        console.print(table)
        if not report.ok:
            console.print("[bold red]Discord storage is NOT ready.[/]")
            raise typer.Exit(1)
        console.print("[green]Discord storage is ready.[/]")

    @group.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def emulator(ctx: typer.Context) -> None:
        """Run the local Discord emulator for demos (options: see --help of the module:
        ``--port``, ``--token``, ``--channel``, ``--max-file-mib``, ``--message-limit`` ...)."""
        from cordvault.discord.emulator.__main__ import main

        main(list(ctx.args))

    app.add_typer(group, name="discord")
