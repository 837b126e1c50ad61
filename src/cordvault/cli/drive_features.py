"""``cordvault drive`` commands for the trash, versions, quotas, search and folder sharing.

Kept apart from :mod:`cordvault.cli.drive` (which adds them with :func:`add_commands`) so the
command groups grow without stepping on each other. Every command is one or two calls of the
REST API (``docs/drive-api.md``) through :class:`~cordvault.cli.drive_client.DriveClient`;
errors print ``error CODE: message`` and exit with the code's status, as the other commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cordvault.cli.drive_client import DriveClient
from cordvault.core.errors import CordvaultError, ErrorCode

_CONFLICT_HELP = "fail | skip | overwrite | rename (when the name is taken)"


def _find(client: DriveClient, remote: str) -> dict[str, Any]:
    found = client.find(remote)
    if found is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, f"no such file or folder: {remote}")
    return found


def _file_id(client: DriveClient, remote: str) -> str:
    found = _find(client, remote)
    if found.get("file") is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "not a file")
    return str(found["file"]["id"])


def _folder_id(client: DriveClient, remote: str) -> str:
    found = _find(client, remote)
    if found.get("folder") is None:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "not a folder")
    return str(found["folder"]["id"])


def _parse_limit(value: str) -> int | str:
    if value in ("unlimited", "default"):
        return value
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    factor = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        return int(float(number) * factor)
    except ValueError:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, "quota is bytes (e.g. 500M, 2G), 'unlimited' or 'default'"
        ) from None


def add_commands(app: typer.Typer, client: Callable[[], DriveClient], out: Console) -> None:
    """Add the commands to the ``drive`` group (``client`` opens the signed-in client)."""

    @app.command("trash")
    def trash_list() -> None:
        """List your trash (newest first): id, what, where it was, size, purge date."""
        with client() as c:
            page = c.api("GET", "/api/drive/trash", params={"limit": 1000})
        # Plain lines, ids first and whole: they are what `restore` and `purge` take.
        for e in page["items"]:
            purge_at = e["purge_at"] or "-"
            line = f"{e['id']}  {e['kind']:6}  {e['size']:>12}  {e['trashed_at']}  {purge_at}  "
            out.print(line + e["path"], highlight=False, soft_wrap=True)

    @app.command("restore")
    def restore(
        entry: Annotated[str, typer.Argument(help="A trash id, or the path it had.")],
        on_conflict: Annotated[str, typer.Option(help=_CONFLICT_HELP)] = "fail",
        into: Annotated[str | None, typer.Option(help="Restore into this folder.")] = None,
    ) -> None:
        """Put a trashed file or folder back (its parent is recreated if it is gone)."""
        with client() as c:
            entry_id = _entry_id(c, entry)
            body: dict[str, Any] = {"on_conflict": on_conflict}
            if into is not None:
                body["folder_id"] = _folder_id(c, into)
            done = c.api("POST", f"/api/drive/trash/{entry_id}/restore", json=body)
        verb = "kept in the trash (skip)" if done["skipped"] else "restored"
        out.print(f"{verb}: {done['name']}", highlight=False)

    @app.command("purge")
    def purge(
        entry: Annotated[str, typer.Argument(help="A trash id, or the path it had.")],
    ) -> None:
        """Delete one trash entry forever."""
        with client() as c:
            done = c.api("DELETE", f"/api/drive/trash/{_entry_id(c, entry)}")
        out.print(f"purged ({done['purged_files']} files)", highlight=False)

    @app.command("empty-trash")
    def empty_trash(
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    ) -> None:
        """Delete everything in your trash forever."""
        if not yes and not typer.confirm("Delete everything in your trash forever?"):
            raise typer.Exit(1)
        with client() as c:
            done = c.api("DELETE", "/api/drive/trash")
        out.print(f"purged {done['purged']} entries", highlight=False)

    @app.command("versions")
    def versions(remote: str) -> None:
        """List a file's earlier contents (newest first)."""
        with client() as c:
            rows = c.api("GET", f"/api/drive/files/{_file_id(c, remote)}/versions")
        for v in rows:  # plain lines: the id is what version-get / version-restore take
            line = f"{v['id']}  v{v['content_version']}  {v['size']:>12}  {v['modified_at']}  "
            out.print(line + v["sha256"][:16], highlight=False, soft_wrap=True)

    @app.command("version-get")
    def version_get(remote: str, version_id: str, local: Path) -> None:
        """Download an earlier content of REMOTE to LOCAL."""
        with client() as c:
            url = f"/api/drive/files/{_file_id(c, remote)}/versions/{version_id}/content"
            size = c.save(url, local)
        out.print(f"downloaded {local} ({size} bytes)", highlight=False)

    @app.command("version-restore")
    def version_restore(remote: str, version_id: str) -> None:
        """Make an earlier content current again (the current one is kept as a version)."""
        with client() as c:
            url = f"/api/drive/files/{_file_id(c, remote)}/versions/{version_id}/restore"
            f = c.api("POST", url)
        out.print(f"restored {f['name']} (now version {f['content_version']})", highlight=False)

    @app.command("quota")
    def quota(
        user: Annotated[str | None, typer.Argument(help="An account (administrators).")] = None,
        set_to: Annotated[
            str | None, typer.Option("--set", help="Bytes (500M, 2G), unlimited or default.")
        ] = None,
        all_users: Annotated[bool, typer.Option("--all", help="Every account (admins).")] = False,
    ) -> None:
        """Show your usage and quota; administrators: --all, or set USER's with --set."""
        with client() as c:
            if set_to is not None:
                if user is None:
                    raise CordvaultError(ErrorCode.INVALID_INPUT, "give the account to set")
                rows = [
                    c.api("PUT", f"/api/drive/quotas/{user}", json={"limit": _parse_limit(set_to)})
                ]
            elif all_users or user is not None:
                rows = [
                    r
                    for r in c.api("GET", "/api/drive/quotas")
                    if user is None or r["user"] == user
                ]
            else:
                rows = [c.api("GET", "/api/drive/quota")]
        table = Table(box=None)
        for col in ("user", "used", "limit", "files", "trash", "versions", "uploading"):
            table.add_column(col)
        for r in rows:
            limit = "unlimited" if r["limit"] is None else str(r["limit"])
            table.add_row(
                r["user"],
                str(r["used"]),
                f"{limit} ({r['setting']})",
                str(r["files"]),
                str(r["trash"]),
                str(r["versions"]),
                str(r["reserved"]),
            )
        out.print(table)

    @app.command("search")
    def search(
        query: str,
        kind: Annotated[str | None, typer.Option(help="file or folder")] = None,
        type_: Annotated[
            str | None, typer.Option("--type", help="image, video, text/plain")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    ) -> None:
        """Find files and folders by name (case- and accent-insensitive substring)."""
        params: dict[str, Any] = {"q": query, "limit": limit}
        if kind is not None:
            params["kind"] = kind
        if type_ is not None:
            params["type"] = type_
        with client() as c:
            page = c.api("GET", "/api/drive/search", params=params)
            table = Table(box=None)
            for col in ("name", "kind", "size", "in"):
                table.add_column(col)
            for item in page["items"]:
                parent = item.get("folder_id") or item.get("parent_id") or ""
                table.add_row(
                    item["name"],
                    item["kind"],
                    str(item.get("size", "")),
                    parent,
                )
        out.print(table)
        if page["has_more"]:
            out.print(f"(more: raise --limit above {limit})", highlight=False)

    @app.command("share-folder")
    def share_folder(
        remote: str,
        user: str,
        write: Annotated[bool, typer.Option("--write", help="Read and write.")] = False,
        revoke: Annotated[bool, typer.Option("--revoke", help="Remove the share.")] = False,
    ) -> None:
        """Share a folder and everything below it (files added later too) with USER."""
        with client() as c:
            url = f"/api/drive/folders/{_folder_id(c, remote)}/shares/{user}"
            if revoke:
                c.api("DELETE", url)
            else:
                c.api("PUT", url, json={"access": "write" if write else "read"})
        out.print(f"{'unshared' if revoke else 'shared'} {remote}", highlight=False)

    @app.command("publish")
    def publish(
        remote: str,
        off: Annotated[bool, typer.Option("--off", help="Make it private again.")] = False,
    ) -> None:
        """Make a folder (everything below it) or a file readable by every signed-in user."""
        with client() as c:
            found = _find(c, remote)
            if found.get("folder") is not None:
                c.api(
                    "PATCH", f"/api/drive/folders/{found['folder']['id']}", json={"public": not off}
                )
            else:
                c.api("PATCH", f"/api/drive/files/{found['file']['id']}", json={"public": not off})
        out.print(f"{remote} is {'private' if off else 'public'}", highlight=False)

    @app.command("folder-link")
    def folder_link(
        remote: str,
        expires: Annotated[int | None, typer.Option(help="Seconds until it expires.")] = None,
    ) -> None:
        """Print a signed link to a folder: its listing (``/zip`` for a zip), no account."""
        with client() as c:
            url = f"/api/drive/folders/{_folder_id(c, remote)}/links"
            link = c.api("POST", url, json={"expires_in": expires})
        out.print(link["url"], highlight=False, soft_wrap=True)


def _entry_id(client: DriveClient, entry: str) -> str:
    """A trash id as given, or the id of the newest entry that had the path ``entry``."""
    if not entry.startswith("/"):
        return entry
    page = client.api("GET", "/api/drive/trash", params={"limit": 1000})
    for e in page["items"]:
        if e["path"] == "/" + entry.strip("/"):
            return str(e["id"])
    raise CordvaultError(ErrorCode.NOT_FOUND, f"nothing in your trash was at {entry}")
