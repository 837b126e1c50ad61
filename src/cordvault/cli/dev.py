"""Developer commands: ``dev gen-package`` writes a synthetic Discord Data Package.

The command only parses options and calls :func:`cordvault.insights.generator.generate_package`;
bad options surface as CordvaultError(INVALID_INPUT) through the CLI's error boundary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cordvault.insights.generator import VARIANTS, GenOptions, generate_package


def register(app: typer.Typer) -> None:
    """Add the ``dev`` command group to the root app."""
    dev = typer.Typer(help="Developer tools", no_args_is_help=True)

    @dev.command("gen-package")
    def gen_package(
        out: Annotated[Path, typer.Argument(help="Zip file to write.", dir_okay=False)],
        variant: Annotated[
            str, typer.Option(help=f"Layout preset: {', '.join(VARIANTS)}.")
        ] = "modern",
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 1,
        messages: Annotated[int, typer.Option(help="Messages over all channels.")] = 2_000,
        events: Annotated[int, typer.Option(help="Analytics lines over all shards.")] = 5_000,
        expected: Annotated[
            Path | None,
            typer.Option(help="Where expected.json goes (default: OUT.expected.json)."),
        ] = None,
        compress_level: Annotated[
            int, typer.Option(min=0, max=9, help="Deflate level (1 is fastest).")
        ] = 6,
        realistic: Annotated[
            bool,
            typer.Option(
                "--realistic/--uniform",
                help="Realistic profile (heavy-tailed channels, conversations, diurnal hours,"
                " real-world event mix) or the uniform worst case.",
            ),
        ] = False,
    ) -> None:
        """Write a deterministic synthetic package and the aggregates it must produce."""
        options = GenOptions(
            variant, seed, messages, events, compress_level, "realistic" if realistic else "uniform"
        )
        options.check()
        expected_path = expected or out.with_name(out.stem + ".expected.json")
        columns = (
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            tasks: dict[str, object] = {}

            def report(stage: str, done: int, total: int) -> None:
                task = tasks.get(stage)
                if task is None:
                    task = tasks[stage] = bar.add_task(stage, total=total)
                bar.update(task, completed=done)  # type: ignore[arg-type]

            result = generate_package(out, options, expected_path, report)
        meta = result.meta
        typer.echo(
            f"wrote {out} ({meta['messages_total']} messages, "
            f"{meta['analytics_events']} analytics events) and {expected_path}"
        )

    app.add_typer(dev, name="dev")
