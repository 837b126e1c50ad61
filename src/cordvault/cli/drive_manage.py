"""``cordvault drive ...`` for everything else the API can do: publish / unpublish, transfer
ownership, links (list, revoke), shares (list, shared with me), usage, merge, and app passwords
for WebDAV. Listing commands take ``--json`` (one JSON document on stdout, for scripts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from cordvault.cli.drive_client import DriveClient
from cordvault.core.errors import CordvaultError, ErrorCode

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
_CONFLICT_HELP = "On a name clash: fail, skip, overwrite or rename."


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _file(client: DriveClient, remote: str) -> dict[str, Any]:
    found = client.find(remote)
    if found is None or found.get("file") is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    meta: dict[str, Any] = found["file"]
    return meta


def _folder(client: DriveClient, remote: str) -> dict[str, Any]:
    found = client.find(remote)
    if found is None or found.get("folder") is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    meta: dict[str, Any] = found["folder"]
    return meta


def register(app: typer.Typer, client: Callable[[], AbstractContextManager[DriveClient]]) -> None:
    """Add the management commands to the ``drive`` group."""

    def set_public(remote: str, public: bool) -> None:
        with client() as c:
            c.update_file(str(_file(c, remote)["id"]), public=public)
        typer.echo(f"{'published' if public else 'unpublished'} {remote}")

    @app.command()
    def publish(remote: str) -> None:
        """Make a file readable by every signed-in user."""
        set_public(remote, True)

    @app.command()
    def unpublish(remote: str) -> None:
        """Make a published file private again."""
        set_public(remote, False)

    @app.command()
    def transfer(remote: str, user: str) -> None:
        """Give a file to USER (you keep no access unless they share it back)."""
        with client() as c:
            c.transfer(str(_file(c, remote)["id"]), user)
        typer.echo(f"transferred {remote} to {user}")

    @app.command()
    def merge(
        source: str,
        into: str,
        on_conflict: Annotated[str, typer.Option(help=_CONFLICT_HELP)] = "fail",
    ) -> None:
        """Move everything in folder SOURCE into folder INTO (same-named folders merge)."""
        with client() as c:
            rep = c.merge(str(_folder(c, source)["id"]), str(_folder(c, into)["id"]), on_conflict)
        typer.echo(
            f"merged {source} into {into}: {rep['moved']} moved, {rep['skipped']} skipped, "
            f"{rep['renamed']} renamed, {rep['overwritten']} overwritten"
        )

    @app.command()
    def usage(remote: Annotated[str, typer.Argument()] = "/", as_json: JsonOpt = False) -> None:
        """Size of a folder tree, by type."""
        with client() as c:
            u = c.usage(str(_folder(c, remote)["id"]))
        if as_json:
            emit_json(u)
            return
        typer.echo(f"{u['files']} files, {u['size']} bytes")
        for t in u["by_type"]:
            typer.echo(f"  {t['type']}: {t['count']} files, {t['size']} bytes")

    links = typer.Typer(help="Signed download links of a file.", no_args_is_help=True)
    app.add_typer(links, name="links")

    @links.command("list")
    def links_list(remote: str, as_json: JsonOpt = False) -> None:
        """The file's active links."""
        with client() as c:
            rows = c.links(str(_file(c, remote)["id"]))
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['id']}  expires {row['expires_at'] or 'never'}  {row['url']}")

    @links.command("revoke")
    def links_revoke(
        remote: str,
        link_id: Annotated[str | None, typer.Option("--id", help="Only this link.")] = None,
    ) -> None:
        """Revoke the file's links (all, or one with --id)."""
        with client() as c:
            meta = _file(c, remote)
            if link_id is not None:
                c.revoke_link(link_id)
                typer.echo(f"revoked link {link_id}")
            else:
                typer.echo(f"revoked {c.revoke_links(str(meta['id']))} link(s)")

    shares = typer.Typer(help="Shares of files.", no_args_is_help=True)
    app.add_typer(shares, name="shares")

    @shares.command("list")
    def shares_list(remote: str, as_json: JsonOpt = False) -> None:
        """Who a file of yours is shared with."""
        with client() as c:
            rows = c.shares(str(_file(c, remote)["id"]))
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['user']}  {row['access']}")

    @shares.command("mine")
    def shares_mine(as_json: JsonOpt = False) -> None:
        """Files other users shared with you."""
        with client() as c:
            rows = c.shared_with_me()
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['name']}  {row['access']}  {row['size']} bytes  ({row['id']})")

    passwords = typer.Typer(
        help="App passwords: per-device passwords for WebDAV (/dav/).", no_args_is_help=True
    )
    app.add_typer(passwords, name="app-password")

    @passwords.command("create")
    def app_password_create(name: str, as_json: JsonOpt = False) -> None:
        """Create an app password named NAME; it is printed once, never again."""
        with client() as c:
            made = c.create_app_password(name)
        if as_json:
            emit_json(made)
            return
        typer.echo(f"app password {made['name']!r} ({made['id']}):")
        typer.echo(made["password"])

    @passwords.command("list")
    def app_password_list(as_json: JsonOpt = False) -> None:
        """Your app passwords (never their secrets)."""
        with client() as c:
            rows = c.app_passwords()
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            used = row["last_used_at"] or "never used"
            typer.echo(f"{row['id']}  {row['name']}  created {row['created_at']}  {used}")

    @passwords.command("revoke")
    def app_password_revoke(app_password_id: str) -> None:
        """Revoke an app password (by id, from `list`): it fails from the next request on."""
        with client() as c:
            c.revoke_app_password(app_password_id)
        typer.echo(f"revoked app password {app_password_id}")
