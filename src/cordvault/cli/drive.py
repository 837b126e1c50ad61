"""``cordvault user ...`` (accounts, straight in the DB) and ``cordvault drive ...`` (a client).

``drive login URL`` stores the server URL and a token in ``DRIVE_CLIENT_CONFIG`` (default
``~/.config/cordvault/drive.json``, mode 0600); the other ``drive`` commands talk to that server
through :class:`~cordvault.cli.drive_client.DriveClient`. Commands only parse options, call one
thing and print; errors are ``CordvaultError`` handled by the root app.
"""

from __future__ import annotations

import json
import posixpath
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cordvault.cli import drive_manage, drive_transfers
from cordvault.cli.drive_client import DriveClient, write_private
from cordvault.cli.drive_manage import JsonOpt, emit_json
from cordvault.cli.operations import add_drive_commands
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings, load_settings

out = Console()
_CONFLICT_HELP = "On a name clash: fail, skip, overwrite or rename."
err = Console(stderr=True)


def _read_password(password_stdin: bool, *, confirm: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return value


# -- accounts (direct DB) ------------------------------------------------------------------


@contextmanager
def _db(settings: Settings) -> Iterator[Any]:
    """One transaction on the configured database (committed when the block ends normally)."""
    from cordvault.runtime import build_services

    with build_services(settings) as services, services.sessions.begin() as db:
        yield db


def _user_app() -> typer.Typer:
    app = typer.Typer(help="Manage drive accounts directly in the database.", no_args_is_help=True)

    @app.command("create")
    def create(
        name: str,
        admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
    ) -> None:
        """Create an account (the first one is always an administrator)."""
        from cordvault.drive import users

        password = _read_password(password_stdin, confirm=True)
        with _db(load_settings()) as db:
            user = users.create_user(db, None, name, password, is_admin=admin)
            kind = "administrator" if user.is_admin else "user"
        out.print(f"created {kind} {name}", highlight=False)

    @app.command("list")
    def list_users(as_json: JsonOpt = False) -> None:
        """List accounts."""
        from cordvault.drive import users

        with _db(load_settings()) as db:
            rows = [
                (u.name, u.is_admin, u.disabled)
                for u in users.search_users(db, None, limit=10_000, offset=0)
            ]
        if as_json:
            emit_json([{"name": n, "is_admin": a, "disabled": d} for n, a, d in rows])
            return
        for name, is_admin, disabled in rows:
            flags = ", ".join(f for f, on in (("admin", is_admin), ("disabled", disabled)) if on)
            out.print(f"{name}{f'  ({flags})' if flags else ''}", highlight=False)

    @app.command("passwd")
    def passwd(
        name: str,
        password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    ) -> None:
        """Reset an account's password (its sessions and tokens stop working)."""
        from cordvault.drive import users

        password = _read_password(password_stdin, confirm=True)
        with _db(load_settings()) as db:
            users.reset_password(db, None, name, password)
        out.print(f"password of {name} reset", highlight=False)

    # -- account state (issue 17): the same service as PATCH /api/auth/users/{id} ----------

    def change(
        name: str, done: str, *, disabled: bool | None = None, is_admin: bool | None = None
    ) -> None:
        from cordvault.drive import users

        with _db(load_settings()) as db:
            user_id = users.get_user_by_name(db, name).id
            users.update_user(db, None, user_id, disabled=disabled, is_admin=is_admin)
        out.print(f"{name} {done}", highlight=False, markup=False)

    @app.command("disable")
    def disable(name: str) -> None:
        """Disable an account: its tokens and app passwords stop working at once."""
        change(name, "disabled", disabled=True)

    @app.command("enable")
    def enable(name: str) -> None:
        """Enable a disabled account (it signs in again; old tokens stay dead)."""
        change(name, "enabled", disabled=False)

    @app.command("promote")
    def promote(name: str) -> None:
        """Make an account an administrator."""
        change(name, "is an administrator", is_admin=True)

    @app.command("demote")
    def demote(name: str) -> None:
        """Remove an account's administrator flag."""
        change(name, "is no longer an administrator", is_admin=False)

    from cordvault.cli import drive_account

    drive_account.install_operator(app)
    return app


# -- drive client --------------------------------------------------------------------------


def _config_path(settings: Settings) -> Path:
    return settings.drive_client_config or Path.home() / ".config" / "cordvault" / "drive.json"


def _client() -> DriveClient:
    path = _config_path(load_settings())
    try:
        config = json.loads(path.read_text())
        return DriveClient(str(config["url"]), str(config["token"]))
    except (OSError, ValueError, KeyError):
        raise CordvaultError(
            ErrorCode.UNAUTHORIZED, "not signed in: run `cordvault drive login URL` first"
        ) from None


def _state_file() -> Path:
    return _config_path(load_settings()).with_name("uploads.json")


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total or None)
        yield lambda n: bar.advance(task, n)


def _need(found: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if found is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, f"no such {what}")
    return found


def _folder_id(client: DriveClient, path: str) -> str:
    found = _need(client.find(path), "folder")
    if found.get("folder") is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "not a folder")
    return str(found["folder"]["id"])


def _split(remote: str) -> tuple[str, str]:
    parent, name = posixpath.split("/" + remote.strip("/"))
    return parent or "/", name


def _drive_app() -> typer.Typer:
    app = typer.Typer(help="Use a drive server (after `drive login`).", no_args_is_help=True)

    @app.command()
    def login(
        url: str,
        name: Annotated[str | None, typer.Option("--name", help="Account name.")] = None,
        password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    ) -> None:
        """Sign in to the server at URL and keep the token (0600 file)."""
        user = name or typer.prompt("Name")
        password = _read_password(password_stdin, confirm=False)
        with DriveClient(url) as client:
            token = client.login(user, password)
        path = _config_path(load_settings())
        write_private(path, json.dumps({"url": url.rstrip("/"), "token": token}))
        out.print(f"signed in to {url.rstrip('/')} as {user}", highlight=False)

    @app.command()
    def ls(
        remote: Annotated[str, typer.Argument()] = "/",
        long: Annotated[bool, typer.Option("-l", "--long", help="Sizes, owners, dates.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """List a folder."""
        with _client() as client:
            found = _need(client.find(remote), "file or folder")
            if found.get("file") is not None:
                items = [found["file"]]
            else:
                items = list(client.list_all(found["folder"]["id"]))
        if as_json:
            emit_json(items)
            return
        if not long:
            for item in items:
                suffix = "/" if item["kind"] == "folder" else ""
                out.print(f"{item['name']}{suffix}", highlight=False, markup=False)
            return
        table = Table(box=None, show_header=True)
        for col in ("name", "size", "type", "access", "modified"):
            table.add_column(col)
        for item in items:
            is_folder = item["kind"] == "folder"
            table.add_row(
                item["name"] + ("/" if is_folder else ""),
                "" if is_folder else str(item["size"]),
                "folder" if is_folder else item["mime_type"],
                "" if is_folder else item["access"],
                item["updated_at"],
            )
        out.print(table)

    @app.command()
    def mkdir(remote: str) -> None:
        """Create a folder and any missing parents."""
        with _client() as client:
            client.mkdir(remote)
        out.print(f"created {remote}", highlight=False)

    @app.command()
    def mv(
        source: str,
        dest: str,
        on_conflict: Annotated[str, typer.Option(help=_CONFLICT_HELP)] = "fail",
    ) -> None:
        """Move or rename SOURCE to DEST (into DEST when it is a folder)."""
        with _client() as client:
            src = _need(client.find(source), "file or folder")
            target = client.find(dest)
            if target is not None and target.get("folder") is not None:
                folder_id, name = str(target["folder"]["id"]), _split(source)[1]
            else:
                parent, name = _split(dest)
                folder_id = _folder_id(client, parent)
            if src.get("file") is not None:
                client.update_file(
                    src["file"]["id"], name=name, folder_id=folder_id, on_conflict=on_conflict
                )
            else:
                client.update_folder(
                    src["folder"]["id"], name=name, parent_id=folder_id, on_conflict=on_conflict
                )
        out.print(f"moved {source} -> {dest}", highlight=False)

    @app.command()
    def rm(
        remote: str,
        recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Folders too.")] = False,
    ) -> None:
        """Delete a file (or, with -r, a folder and everything in it)."""
        with _client() as client:
            found = _need(client.find(remote), "file or folder")
            if found.get("file") is not None:
                client.delete_file(found["file"]["id"])
            elif not recursive:
                raise CordvaultError(ErrorCode.INVALID_INPUT, "a folder: use -r to delete it")
            else:
                client.delete_folder(found["folder"]["id"])
        out.print(f"deleted {remote}", highlight=False)

    @app.command()
    def share(
        remote: str,
        user: str,
        write: Annotated[bool, typer.Option("--write", help="Read and write access.")] = False,
        revoke: Annotated[bool, typer.Option("--revoke", help="Remove the share.")] = False,
    ) -> None:
        """Share a file with USER (read, or read-write with --write), or revoke it."""
        with _client() as client:
            found = _need(client.find(remote), "file")
            if found.get("file") is None:
                raise CordvaultError(ErrorCode.INVALID_INPUT, "only files can be shared")
            if revoke:
                client.unshare(found["file"]["id"], user)
            else:
                client.share(found["file"]["id"], user, "write" if write else "read")
        out.print(f"{'unshared' if revoke else 'shared'} {remote} with {user}", highlight=False)

    @app.command()
    def link(
        remote: str,
        expires: Annotated[
            int | None, typer.Option("--expires", min=1, help="Lifetime in seconds.")
        ] = None,
    ) -> None:
        """Print a signed download URL for REMOTE (no account needed to open it)."""
        with _client() as client:
            found = _need(client.find(remote), "file")
            if found.get("file") is None:
                raise CordvaultError(ErrorCode.INVALID_INPUT, "links are for files")
            url = client.link(found["file"]["id"], expires)
        out.print(url, highlight=False, markup=False, soft_wrap=True)

    @app.command("rewrap-keys")
    def rewrap_keys() -> None:
        """On the server: rewrap every file key under the current MESSAGE_ENCRYPTION_KEY
        (key rotation step 2, docs/drive-format.md). Safe to re-run."""
        from cordvault.drive.rotation import rewrap_all
        from cordvault.runtime import build_services

        with build_services(load_settings()) as services:
            report = rewrap_all(services.drive)
        out.print(
            f"rewrapped {report.rewrapped} file keys "
            f"({report.already_current} already under the current key)",
            highlight=False,
        )

    @app.command("doctor")
    def doctor(
        repair: Annotated[
            bool,
            typer.Option("--repair", help="Re-attach each broken group under the root."),
        ] = False,
    ) -> None:
        """On the server: find folders cut off from the root by a parent cycle (exit 1 if
        any); --repair moves one folder of each cycle to the root (renamed if taken)."""
        from cordvault.drive import doctor as tree_doctor

        with _db(load_settings()) as db:
            found = tree_doctor.repair(db) if repair else tree_doctor.find_broken(db)
        if not found:
            out.print("folder tree ok: no broken folders", highlight=False)
            return
        for broken in found:
            out.print(
                f"{broken.kind} of {len(broken.loop)} folder(s) {', '.join(broken.loop)}: "
                f"{broken.cut_off} folder(s) cut off from the root",
                highlight=False,
                markup=False,
            )
            if broken.new_name is not None:
                out.print(
                    f"  re-attached folder {broken.reattach} under the root as {broken.new_name!r}",
                    highlight=False,
                    markup=False,
                )
        if not repair:
            out.print("run `cordvault drive doctor --repair` to re-attach them", markup=False)
            raise typer.Exit(1)

    @app.command("thumbnails")
    def thumbnails(
        retry: Annotated[
            bool,
            typer.Option("--retry", help="Also retry files that got no thumbnail before."),
        ] = False,
    ) -> None:
        """On the server: make the missing thumbnails of existing files (here and now, or
        queued for `cordvault worker` when BROKER_URL is set)."""
        from cordvault.runtime import build_services

        with build_services(load_settings()) as services:
            done = services.preview_queue().catch_up(retry=retry)
        if "queued" in done:
            out.print(
                f"{done['queued']} file(s) queued for the thumbnail workers, "
                f"{done.get('swept', 0)} of deleted files removed",
                highlight=False,
            )
            return
        out.print(
            f"{done.get('ready', 0)} thumbnail(s) made, {done.get('none', 0)} file(s) without "
            f"one, {done.get('swept', 0)} of deleted files removed",
            highlight=False,
        )

    @app.command("zip")
    def zip_folder(remote_dir: str, output: Path) -> None:
        """Download REMOTE_DIR and everything below it (that you may read) as a zip."""
        with _client() as client:
            folder_id = _folder_id(client, remote_dir)
            with _progress(0, output.name) as advance:
                size = client.download_zip(folder_id, output, progress=advance)
        out.print(f"wrote {output} ({size} bytes)", highlight=False)

    drive_transfers.register(app, _client, _state_file)
    drive_manage.register(app, _client)
    add_drive_commands(app)
    # Trash, versions, quotas, search, folder sharing: their own module (issue 16).
    from cordvault.cli import drive_features

    drive_features.add_commands(app, _client, out)
    return app


def register(app: typer.Typer) -> None:
    """Add the ``user`` and ``drive`` command groups."""
    app.add_typer(_user_app(), name="user")
    from cordvault.cli import drive_account

    drive = _drive_app()
    drive_account.install(drive, _client)
    app.add_typer(drive, name="drive")
