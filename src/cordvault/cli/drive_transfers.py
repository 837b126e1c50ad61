"""``cordvault drive put|get|sync``: many files and whole folders, with a summary.

- ``put SRC... DEST`` uploads files (and, with ``-r``, folders) into the remote folder DEST
  (created if missing); one file to a DEST that is not a folder uploads under that path.
- ``get SRC... DEST`` downloads files (and, with ``-r``, folder trees) into the local DEST.
- ``sync LOCAL REMOTE`` makes REMOTE a copy of LOCAL, one way (backups): a file is sent when it
  is missing remotely or differs by size or SHA-256; ``--delete`` removes remote entries LOCAL
  does not have; ``--dry-run`` only prints the plan.

Each keeps going past a failed file and ends with ``N ok, M failed`` (and the failures); the
exit status is then that of the first failure's error code (``docs/errors.md``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from cordvault.cli.drive_client import DriveClient, sha256_file
from cordvault.core.errors import CordvaultError, ErrorCode

_CONFLICT_HELP = "On a name clash: fail, skip, overwrite or rename."


@dataclass
class Summary:
    ok: int = 0
    skipped: int = 0
    failures: list[tuple[str, CordvaultError]] = field(default_factory=list)

    def fail(self, what: str, exc: CordvaultError) -> None:
        self.failures.append((what, exc))
        typer.echo(f"error {exc.code}: {exc.message} ({what})", err=True)

    def finish(self, verb: str) -> None:
        line = f"{self.ok} {verb}, {len(self.failures)} failed"
        typer.echo(line + (f", {self.skipped} unchanged" if self.skipped else ""))
        if self.failures:
            raise typer.Exit(self.failures[0][1].exit_code)


def _join(folder: str, name: str) -> str:
    return posixpath.join("/" + folder.strip("/"), name)


def _local_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every file below ``root`` with its path relative to it (posix), sorted."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path, path.relative_to(root).as_posix()


def _remote_tree(client: DriveClient, folder_id: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    """Every entry below a remote folder, each with ``rel`` (its path relative to it)."""
    for item in client.list_all(folder_id):
        rel = f"{prefix}{item['name']}"
        yield {**item, "rel": rel}
        if item["kind"] == "folder":
            yield from _remote_tree(client, str(item["id"]), rel + "/")


def _upload(
    client: DriveClient,
    local: Path,
    remote_dir: str,
    name: str,
    on_conflict: str,
    state: Path,
    parallel: int = 4,
) -> dict[str, Any]:
    folder_id = str(client.mkdir(remote_dir)["id"])
    done: dict[str, Any] = client.upload(
        local, folder_id, name, on_conflict=on_conflict, state_file=state, parallel=parallel
    )
    return done


def put_many(
    client: DriveClient,
    sources: list[Path],
    dest: str,
    *,
    recursive: bool,
    on_conflict: str,
    state: Path,
    parallel: int = 4,
) -> None:
    summary = Summary()
    found = client.find(dest)
    dest_is_folder = found is not None and found.get("folder") is not None
    if len(sources) == 1 and sources[0].is_file() and not dest_is_folder and not dest.endswith("/"):
        parent, name = posixpath.split("/" + dest.strip("/"))
        jobs = [(sources[0], parent or "/", name)]
    else:
        jobs = []
        for src in sources:
            if src.is_dir():
                if not recursive:
                    summary.fail(
                        str(src), CordvaultError(ErrorCode.INVALID_INPUT, "a folder: use -r")
                    )
                    continue
                for path, rel in _local_files(src):
                    folder, name = posixpath.split(f"{src.name}/{rel}")
                    jobs.append((path, _join(dest, folder), name))
            elif src.is_file():
                jobs.append((src, "/" + dest.strip("/"), src.name))
            else:
                summary.fail(str(src), CordvaultError(ErrorCode.NOT_FOUND, "no such local file"))
    for path, folder, name in jobs:
        try:
            done = _upload(client, path, folder, name, on_conflict, state, parallel)
        except CordvaultError as exc:
            summary.fail(str(path), exc)
            continue
        if done.get("skipped"):
            summary.skipped += 1
        else:
            summary.ok += 1
        typer.echo(f"{'kept' if done.get('skipped') else 'uploaded'} {_join(folder, name)}")
    summary.finish("uploaded")


def get_many(client: DriveClient, sources: list[str], dest: Path, *, recursive: bool) -> None:
    summary = Summary()
    many = len(sources) > 1 or recursive
    if many:
        dest.mkdir(parents=True, exist_ok=True)
    for src in sources:
        try:
            found = client.find(src)
            if found is None:
                raise CordvaultError(ErrorCode.NOT_FOUND, "no such file or folder")
        except CordvaultError as exc:
            summary.fail(src, exc)
            continue
        if found.get("file") is not None:
            meta = found["file"]
            target = dest / meta["name"] if dest.is_dir() else dest
            jobs = [(meta, target)]
        elif not recursive:
            summary.fail(src, _needs_recursive())
            continue
        else:
            root = dest / (found["folder"]["name"] or "drive")
            root.mkdir(parents=True, exist_ok=True)
            jobs = []
            for item in _remote_tree(client, str(found["folder"]["id"])):
                if item["kind"] == "folder":
                    (root / item["rel"]).mkdir(parents=True, exist_ok=True)
                elif item.get("access") != "none":
                    jobs.append((item, root / item["rel"]))
        for meta, target in jobs:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download(str(meta["id"]), target)
            except (CordvaultError, OSError) as exc:
                err = exc if isinstance(exc, CordvaultError) else _os_error(exc)
                summary.fail(str(target), err)
                continue
            summary.ok += 1
            typer.echo(f"downloaded {target}")
    summary.finish("downloaded")


def _needs_recursive() -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_INPUT, "a folder: use -r")


def _os_error(exc: OSError) -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_INPUT, f"cannot write: {exc.strerror or exc}")


def sync(
    client: DriveClient, local: Path, remote: str, *, delete: bool, dry_run: bool, state: Path
) -> None:
    if not local.is_dir():
        raise CordvaultError(ErrorCode.INVALID_INPUT, "LOCAL must be a folder")
    root = "/" + remote.strip("/")
    found = client.find(root)
    remote_items: dict[str, dict[str, Any]] = {}
    if found is not None:
        if found.get("folder") is None:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "REMOTE is a file, not a folder")
        remote_items = {i["rel"]: i for i in _remote_tree(client, str(found["folder"]["id"]))}
    summary = Summary()
    wanted: set[str] = set()
    for path, rel in _local_files(local):
        wanted.add(rel)
        parts = rel.split("/")
        wanted.update("/".join(parts[:i]) for i in range(1, len(parts)))
        have = remote_items.get(rel)
        size = path.stat().st_size
        same_size = have is not None and have["kind"] == "file" and have["size"] == size
        if same_size and have is not None and have.get("sha256") == sha256_file(path):
            summary.skipped += 1
            continue
        folder, name = posixpath.split(f"{root.rstrip('/')}/{rel}")
        typer.echo(f"{'would send' if dry_run else 'send'} {rel}")
        if dry_run:
            summary.ok += 1
            continue
        try:
            _upload(client, path, folder or "/", name, "overwrite", state)
            summary.ok += 1
        except CordvaultError as exc:
            summary.fail(rel, exc)
    if delete:
        # Shallowest first: a folder's deletion takes what is below it along.
        doomed = [r for r in remote_items if r not in wanted]
        gone: set[str] = set()
        for rel in sorted(doomed, key=lambda r: r.count("/")):
            if any(rel.startswith(g + "/") for g in gone):
                continue
            item = remote_items[rel]
            typer.echo(f"{'would delete' if dry_run else 'delete'} {rel}")
            gone.add(rel)
            if dry_run:
                continue
            try:
                if item["kind"] == "folder":
                    client.delete_folder(str(item["id"]))
                else:
                    client.delete_file(str(item["id"]))
            except CordvaultError as exc:
                summary.fail(rel, exc)
    summary.finish("would be sent" if dry_run else "sent")


def register(app: typer.Typer, client: Any, state_file: Any) -> None:
    """Add ``put``, ``get`` and ``sync`` to the ``drive`` group (``client()`` opens the
    signed-in client, ``state_file()`` is where resumable uploads are remembered)."""

    @app.command()
    def put(
        paths: Annotated[list[str], typer.Argument(help="Local files or folders, then REMOTE.")],
        recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Folders too.")] = False,
        on_conflict: Annotated[str, typer.Option(help=_CONFLICT_HELP)] = "fail",
        parallel: Annotated[int, typer.Option(min=1, max=32, help="Chunks in flight.")] = 4,
    ) -> None:
        """Upload files (folders with -r) to REMOTE; keeps going past failures; resumable:
        re-run to resume."""
        if len(paths) < 2:
            raise typer.BadParameter("give at least one local path and the REMOTE destination")
        with client() as c:
            put_many(
                c,
                [Path(p) for p in paths[:-1]],
                paths[-1],
                recursive=recursive,
                on_conflict=on_conflict,
                state=state_file(),
                parallel=parallel,
            )

    @app.command()
    def get(
        paths: Annotated[list[str], typer.Argument(help="Remote files or folders, then LOCAL.")],
        recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Folders too.")] = False,
    ) -> None:
        """Download files (folder trees with -r) to LOCAL; keeps going past failures."""
        if len(paths) < 2:
            raise typer.BadParameter("give at least one remote path and the LOCAL destination")
        with client() as c:
            get_many(c, paths[:-1], Path(paths[-1]), recursive=recursive)

    @app.command("sync")
    def sync_command(
        local: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
        remote: str,
        delete: Annotated[
            bool, typer.Option("--delete", help="Remove remote entries LOCAL lacks.")
        ] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the plan.")] = False,
    ) -> None:
        """Make REMOTE a copy of LOCAL (one way, by size and SHA-256)."""
        with client() as c:
            sync(c, local, remote, delete=delete, dry_run=dry_run, state=state_file())
