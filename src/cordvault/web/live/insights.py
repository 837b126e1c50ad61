"""Insights job news on the live socket: ``c2s:insights-subscribe`` and ``s2c:insights-status``.

A socket proves it holds a package's key the way the insights routes' bearer does: it sends the
package id and the UPN, and ``md5(upn) == package_id`` (:func:`bearer_matches`) or the packet is
refused ``UNAUTHORIZED``. The reply is the package's current status (the body of ``GET
/process/{id}/status``); afterwards every job event on the bus (topic ``insights-job``, published
by the job runner through the composition root's neutral hook: a claim, a step change, an end)
makes the feed re-read the status of the subscribed packages and push ``s2c:insights-status``
to the subscribers whose package's status changed (a claim moves every queued job, so positions
are re-read too; unchanged statuses are not pushed). The UPN is checked and forgotten: it is
never stored, logged or sent back. Re-reads are coalesced (one at a time, one more if news
arrived meanwhile) and cost one status query per subscribed package.

Runs on the event loop; the status reads run in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import Engine

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.jobs import service
from cordvault.insights.jobs.package_links import bearer_matches
from cordvault.web.live import protocol

if TYPE_CHECKING:
    from cordvault.web.live.connection import Connection

MAX_PER_SOCKET = 16
"""Packages one socket may follow (a Dumpus client follows one)."""


class InsightsFeed:
    def __init__(self, status_engine: Engine) -> None:
        self._engine = status_engine
        self._subs: dict[Connection, dict[str, str]] = {}
        """Socket -> package id -> the last status pushed to it (JSON)."""
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    def _read(self, package_ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._engine.connect() as conn:
            return {pid: service.status(conn, pid) for pid in package_ids}

    async def subscribe(self, conn: Connection, packet: protocol.Packet) -> str:
        """The reply to ``c2s:insights-subscribe`` (current status, or an error packet)."""
        package_id, upn = packet.data.get("package_id"), packet.data.get("upn")
        if not isinstance(package_id, str) or not package_id:
            err = protocol.invalid("package_id must be a string", field="package_id")
            return protocol.error_packet(err, packet.uuid)
        if not isinstance(upn, str) or not bearer_matches(upn, package_id):
            err = CordvaultError(ErrorCode.UNAUTHORIZED, "missing or wrong UPN for this package")
            return protocol.error_packet(err, packet.uuid)
        subs = self._subs.setdefault(conn, {})
        if package_id not in subs and len(subs) >= MAX_PER_SOCKET:
            err = CordvaultError(
                ErrorCode.RATE_LIMITED,
                f"a socket follows at most {MAX_PER_SOCKET} packages",
                details={"limit": MAX_PER_SOCKET},
            )
            return protocol.error_packet(err, packet.uuid)
        body = (await anyio.to_thread.run_sync(self._read, [package_id]))[package_id]
        subs[package_id] = json.dumps(body, sort_keys=True)
        return protocol.encode(
            "s2c:insights-status", {"package_id": package_id, "status": body}, packet.uuid
        )

    def drop(self, conn: Connection) -> None:
        self._subs.pop(conn, None)

    def on_job(self) -> None:
        """A job moved (called on the event loop by the registry)."""
        if not self._subs:
            return
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        while self._dirty:
            self._dirty = False
            wanted = sorted({pid for subs in self._subs.values() for pid in subs})
            if not wanted:
                return
            bodies = await anyio.to_thread.run_sync(self._read, wanted)
            for conn, subs in list(self._subs.items()):
                for pid, last in list(subs.items()):
                    if pid not in bodies:  # subscribed during the read: its reply is current
                        continue
                    text = json.dumps(bodies[pid], sort_keys=True)
                    if text != last:
                        subs[pid] = text
                        data = {"package_id": pid, "status": bodies[pid]}
                        conn.push(protocol.encode("s2c:insights-status", data))
