"""Sessions, sign-in delays and the security log on the command line.

- ``cordvault drive sessions|revoke|logout|log``: one's own, through the server the CLI is
  signed in to (:func:`install`);
- ``cordvault user unlock|sessions|revoke|log``: any account's, straight in the database, for
  the operator on the server (:func:`install_operator`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cordvault.cli.drive_client import DriveClient
from cordvault.core.settings import load_settings

out = Console()


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(box=None, show_header=True)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    return table


def install(app: typer.Typer, client: Callable[[], DriveClient]) -> None:
    """Add the commands to the ``drive`` group; ``client`` opens the signed-in client."""

    @app.command("sessions")
    def sessions() -> None:
        """List your active sessions (tokens): created, last used, client; * = this one."""
        with client() as c:
            rows = c.sessions()
        out.print(
            _table(
                ("id", "kind", "created", "last used", "client", "user agent"),
                [
                    (
                        ("* " if s["current"] else "  ") + s["id"],
                        s["kind"],
                        s["created_at"],
                        s["last_used_at"],
                        s["last_client_address"],
                        s["user_agent"],
                    )
                    for s in rows
                ],
            )
        )

    @app.command("revoke")
    def revoke(
        session_id: Annotated[str | None, typer.Argument(help="The session to end.")] = None,
        all_: Annotated[
            bool, typer.Option("--all", help="End every session but this one.")
        ] = False,
    ) -> None:
        """End one of your sessions (its token stops working), or --all others."""
        with client() as c:
            if all_:
                count = c.revoke_sessions(keep_current=True)
            elif session_id is not None:
                c.revoke_session(session_id)
                count = 1
            else:
                raise typer.BadParameter("give a SESSION_ID or --all")
        out.print(f"revoked {count} session(s)", highlight=False)

    @app.command("logout")
    def logout() -> None:
        """End this session on the server (the stored token stops working)."""
        with client() as c:
            c.logout()
        out.print("signed out", highlight=False)

    @app.command("log")
    def security_log(
        kind: Annotated[str | None, typer.Option("--kind", help="Only this event kind.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    ) -> None:
        """Your security log (everyone's for an administrator), newest first."""
        with client() as c:
            rows = c.security_log(kind=kind, limit=limit)
        out.print(
            _table(
                ("id", "at", "kind", "user", "actor", "client", "detail"),
                [
                    (
                        e["id"],
                        e["at"],
                        e["kind"],
                        e["user_id"],
                        e["actor_id"],
                        e["client_address"],
                        e["detail"],
                    )
                    for e in rows
                ],
            )
        )


@contextmanager
def _db() -> Iterator[Any]:
    """One transaction on the configured database (committed when the block ends normally)."""
    from cordvault.runtime import build_services

    with build_services(load_settings()) as services, services.sessions.begin() as db:
        yield db


def install_operator(app: typer.Typer) -> None:
    """Add the operator's commands to the ``user`` group."""

    @app.command("unlock")
    def unlock(
        name: str,
        client: Annotated[
            str | None,
            typer.Option("--client", help="Also clear this client address (every account)."),
        ] = None,
    ) -> None:
        """Clear the sign-in delays of account NAME (from every client)."""
        from cordvault.drive import signin
        from cordvault.runtime import build_services

        with build_services(load_settings()) as services, services.sessions.begin() as db:
            cleared = signin.unlock(services.drive, db, None, name=name, address=client)
        out.print(f"sign-in delays of {name} cleared ({cleared} entries)", highlight=False)

    @app.command("sessions")
    def list_sessions(name: str) -> None:
        """List the active sessions (tokens) of account NAME."""
        from cordvault.drive import sessions, users

        with _db() as db:
            user = users.get_user_by_name(db, name)
            rows = [
                (r.id, r.kind, r.created_at, r.last_used_at, r.last_client_address, r.user_agent)
                for r in sessions.list_sessions(db, None, user.id)
            ]
        out.print(_table(("id", "kind", "created", "last used", "client", "user agent"), rows))

    @app.command("revoke")
    def revoke(
        name: str,
        session_id: Annotated[
            str | None, typer.Argument(help="One session (default: all of them).")
        ] = None,
    ) -> None:
        """Revoke one session of account NAME, or all of them."""
        from cordvault.core.errors import CordvaultError, ErrorCode
        from cordvault.drive import sessions, users

        with _db() as db:
            user = users.get_user_by_name(db, name)
            if session_id is None:
                count = sessions.revoke_all(db, None, user.id)
            else:
                if sessions.revoke_session(db, None, session_id).user_id != user.id:
                    raise CordvaultError(ErrorCode.NOT_FOUND, "no such session")
                count = 1
        out.print(f"revoked {count} session(s) of {name}", highlight=False)

    @app.command("log")
    def security_log(
        name: Annotated[
            str | None, typer.Option("--user", help="Only events about or by this account.")
        ] = None,
        kind: Annotated[str | None, typer.Option("--kind", help="Only this event kind.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    ) -> None:
        """Print the security log, newest first."""
        from cordvault.drive import security_log, users

        with _db() as db:
            user_id = users.get_user_by_name(db, name).id if name is not None else None
            rows = [
                (e.id, e.at, e.kind, e.user_id, e.actor_id, e.client_address, e.detail)
                for e in security_log.list_events(db, None, user_id=user_id, kind=kind, limit=limit)
            ]
        out.print(_table(("id", "at", "kind", "user", "actor", "client", "detail"), rows))
