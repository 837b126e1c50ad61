"""Insights commands: ``analyze`` a package offline, ``decrypt-blob`` an encrypted result.

Nothing here needs a server, a database or the network. Keys (UPNs) are never taken as plain
command-line arguments (they would sit in shell history and the process list): they come from
a file, an environment variable or a hidden prompt.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import configure_logging, register_secret
from cordvault.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from cordvault.insights.analyze import AnalysisSummary, ProgressCallback

console = Console()


def _read_key(key_file: Path | None, key_env: str | None, prompt: bool) -> str:
    """The UPN/key from a file, an env var, or a hidden prompt."""
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "the key file cannot be read") from exc
    elif key_env is not None:
        key = os.environ.get(key_env, "").strip()
        if not key:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT, f"environment variable {key_env} is empty"
            )
    elif prompt:
        key = str(typer.prompt("Key (your package link's UPN)", hide_input=True)).strip()
    else:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "no key given (use --key-file or --key-env)")
    if "upn=" in key:  # a whole link was pasted: the UPN is its upn query value
        key = key.split("upn=", 1)[1].split("&", 1)[0]
    if not key:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the key is empty")
    register_secret(key)
    return key


def analyze(
    package: Annotated[Path, typer.Argument(help="The Discord Data Package zip.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="SQLite file to write.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="HTML report to write (default beside -o).")
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the HTML report.")] = False,
    blob: Annotated[
        Path | None, typer.Option("--blob", help="Also write the encrypted blob (.cvblob).")
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help="File holding the blob key (UPN).")] = None,
    key_env: Annotated[str | None, typer.Option(help="Env var holding the blob key.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: CPU cores).")
    ] = None,
    open_dashboard: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Then show the dashboard in the browser, served on 127.0.0.1 until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Analyse a Discord Data Package offline: SQLite + HTML report (+ encrypted blob)."""
    settings = load_settings()
    configure_logging(settings.debug_logging, fmt=settings.log_format)
    # Progress bars and the summary say it all; service logs would only interleave with them.
    if not settings.debug_logging:
        logging.getLogger("cordvault").setLevel(logging.WARNING)
    if workers is not None:
        settings = settings.model_copy(update={"analyze_workers": workers})
    if not package.is_file():
        raise CordvaultError(ErrorCode.NOT_FOUND, f"no such file: {package.name}")
    upn = _read_key(key_file, key_env, prompt=True) if blob is not None else None
    out = output or Path(f"{package.stem}-insights.sqlite")
    report_path = None if no_report else (report or out.with_suffix(".html"))

    from cordvault.insights.analyze import PHASE_READ, analyze_package

    with Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.fields[detail]:>22}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}
        started = time.monotonic()

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                # The write phase has no meaningful unit: an indeterminate bar until it ends.
                first_total = total if phase == PHASE_READ else None
                tasks[phase] = bar.add_task(phase, total=first_total, detail="")
            if phase == PHASE_READ:
                rate = done / max(time.monotonic() - started, 1e-6) / 1e6
                detail = f"{done / 1e6:,.0f}/{total / 1e6:,.0f} MB {rate:,.0f} MB/s"
                bar.update(tasks[phase], completed=done, total=total, detail=detail)
            elif done >= total:
                bar.update(tasks[phase], completed=1, total=1, detail="done")

        if blob is not None and upn is not None:
            summary = _analyze_to_blob(package, out, blob, upn, settings, on_progress)
        else:
            summary = analyze_package(
                package, out, settings=settings, package_id="local", progress=on_progress
            )

    if report_path is not None:
        from cordvault.insights.report import render_report

        render_report(out, report_path)

    from cordvault.insights.report import report_summary

    table = Table(title="Your Discord data", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    # Values come from the package (names are user-controlled): never interpret them as markup.
    for label, value in report_summary(out):
        table.add_row(Text(label), Text(value))
    console.print(table)
    console.print(
        f"database: {out} ({summary.sqlite_bytes / 1e6:.1f} MB) in {summary.seconds:.1f} s"
    )
    if report_path is not None:
        console.print(f"report:   {report_path}")
    if blob is not None:
        console.print(f"blob:     {blob}")
    if summary.is_partial:
        console.print(
            "[yellow]note:[/] this package is partial (sections present: "
            + ", ".join(summary.sections)
            + ")"
        )
    if open_dashboard:
        _open_dashboard(out, package.name)


def _open_dashboard(sqlite: Path, label: str) -> None:
    """Serve the dashboard for ``sqlite`` on 127.0.0.1 and open the browser, until Ctrl-C.

    The server is the web adapter's one-result app, run as a child process (the CLI does not
    import the web adapter): its first output line is the page's URL (a one-time random path).
    """
    import subprocess
    import sys
    import webbrowser

    command = [sys.executable, "-m", "cordvault.web.pages.insights_local", str(sqlite)]
    child = subprocess.Popen(  # noqa: S603 - our interpreter, our module, our arguments
        [*command, "--label", label], stdout=subprocess.PIPE, text=True
    )
    try:
        url = child.stdout.readline().strip() if child.stdout is not None else ""
        if not url.startswith("http://127.0.0.1:"):
            child.wait(timeout=10)
            raise CordvaultError(ErrorCode.UNKNOWN_ERROR, "the local dashboard did not start")
        console.print(f"dashboard: {url}  (Ctrl-C to stop)")
        webbrowser.open(url)
        child.wait()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _analyze_to_blob(
    package: Path,
    out: Path,
    blob: Path,
    upn: str,
    settings: Settings,
    progress: ProgressCallback,
) -> AnalysisSummary:
    """The SQLite file at ``out`` and the ``.cvblob`` at ``blob``: the job's own pipeline
    (:func:`~cordvault.insights.pipeline.produce_blob`), then the self-describing container."""
    from cordvault.insights.blob import write_container
    from cordvault.insights.jobs.package_links import package_id_for
    from cordvault.insights.pipeline import produce_blob

    with tempfile.TemporaryDirectory(prefix="cordvault-blob-") as tmp:
        produced = produce_blob(
            package,
            Path(tmp),
            Path(tmp) / "db.ct",
            upn,
            settings=settings,
            package_id=package_id_for(upn),
            progress=progress,
            sqlite_out=out,
        )
        write_container(produced.meta, produced.ciphertext, blob)
    return produced.summary


def decrypt_blob_cmd(
    blob: Annotated[Path, typer.Argument(help="An encrypted .cvblob file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="SQLite file to write.")],
    key_file: Annotated[Path | None, typer.Option(help="File holding the key (UPN).")] = None,
    key_env: Annotated[str | None, typer.Option(help="Env var holding the key.")] = None,
) -> None:
    """Decrypt a .cvblob back into its SQLite file (integrity checked before any output)."""
    import gzip
    import shutil

    from cordvault.core.files import atomic_output
    from cordvault.insights.blob import decrypt_blob, read_container

    upn = _read_key(key_file, key_env, prompt=True)
    if not blob.is_file():
        raise CordvaultError(ErrorCode.NOT_FOUND, f"no such file: {blob.name}")
    with tempfile.TemporaryDirectory(prefix="cordvault-blob-") as tmp:
        ct, gz = Path(tmp) / "db.ct", Path(tmp) / "db.gz"
        meta = read_container(blob, ct)
        decrypt_blob(ct, meta, upn, gz)
        try:
            with gzip.open(gz, "rb") as src, atomic_output(output) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError) as exc:
            raise CordvaultError(ErrorCode.CORRUPT_BLOB, "the blob's content is not gzip") from exc
    console.print(f"decrypted: {output}")


def register(app: typer.Typer) -> None:
    """Add the insights commands to the root app."""
    app.command("analyze")(analyze)
    app.command("decrypt-blob")(decrypt_blob_cmd)
