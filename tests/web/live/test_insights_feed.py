"""Insights job news over /api/ws: only to a socket that proved it holds the package's UPN.

A real server with the insights, drive and live domains and the in-process job queue analyses
a small generated package; the subscribed socket sees each step as the runner reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.support.insights_server import PackageServer, new_upn
from tests.support.live_server import serving
from tests.web.live.conftest import DOMAINS, Live

from cordvault.core.settings import Settings
from cordvault.insights.jobs.package_links import package_id_for
from cordvault.web.app import INSIGHTS, create_app


def test_job_steps_reach_the_socket_that_holds_the_upn(
    db_url: str,
    make_settings: Callable[..., Settings],
    package_server: PackageServer,
    small_package: Path,
) -> None:
    settings = make_settings(db_url, storage_backend="local", drive_gc_interval_seconds=3600)
    app = create_app(settings, domains=(INSIGHTS, *DOMAINS))
    package_server.files["package.zip"] = small_package
    upn = new_upn()
    package_id = package_id_for(upn)
    with serving(app) as base:
        live = Live(base, app)
        try:
            alice = live.token("alice")
            follower, stranger, bystander = (
                live.socket(alice),
                live.socket(alice),
                live.socket(alice),
            )

            # Subscribing needs the UPN whose md5 is the package id.
            wrong = stranger.request(
                "c2s:insights-subscribe", {"package_id": package_id, "upn": new_upn()}
            )
            assert wrong["data"]["code"] == "UNAUTHORIZED"
            assert upn not in str(wrong)
            reply = follower.request(
                "c2s:insights-subscribe", {"package_id": package_id, "upn": upn}
            )
            assert reply["id"] == "s2c:insights-status"
            assert reply["data"]["package_id"] == package_id
            assert reply["data"]["status"]["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"

            # A second package queued behind the first (one worker): its follower hears its
            # queue position when the first job moves, then its own steps.
            upn_b = new_upn()
            queued = live.socket(alice)
            reply = queued.request(
                "c2s:insights-subscribe", {"package_id": package_id_for(upn_b), "upn": upn_b}
            )
            assert reply["id"] == "s2c:insights-status"
            for key in (upn, upn_b):
                r = httpx.post(
                    f"{base}/process",
                    json={"package_link": package_server.link("package.zip", key)},
                    timeout=30,
                )
                assert r.status_code == 200, r.text

            steps: list[str] = []
            statuses: list[dict[str, Any]] = []
            while not steps or steps[-1] not in ("PROCESSED", "ERRORED"):
                packet = follower.recv(90)
                if packet["id"] != "s2c:insights-status":
                    continue
                assert packet["data"]["package_id"] == package_id
                status = packet["data"]["status"]
                statuses.append(status)
                steps.append("ERRORED" if status["isErrored"] else status["processingStep"])
            assert steps[-1] == "PROCESSED", statuses
            assert statuses[-1]["isDataAvailable"] is True
            # Pushed as the runner moved: downloading, analysing, done (the queue was empty,
            # so LOCKED may be over before the first news).
            # (a step repeats when only the queue totals changed: the second package joined)
            moved = [s for i, s in enumerate(steps) if s != "LOCKED" and steps[i - 1 : i] != [s]]
            assert moved == ["DOWNLOADING", "ANALYZING", "PROCESSED"], steps
            # The same body as the REST poll.
            rest = httpx.get(
                f"{base}/process/{package_id}/status",
                headers={"Authorization": f"Bearer {upn}"},
            ).json()
            assert rest == statuses[-1]

            b_statuses: list[dict[str, Any]] = []
            while not b_statuses or not b_statuses[-1]["isDataAvailable"]:
                packet = queued.recv(90)
                if packet["id"] == "s2c:insights-status":
                    assert packet["data"]["package_id"] == package_id_for(upn_b)
                    b_statuses.append(packet["data"]["status"])
            waiting = b_statuses[0]
            assert waiting["processingStep"] == "LOCKED", b_statuses
            position = waiting["processingQueuePosition"]
            assert (position["user"], position["total"]) == (1, 2)  # one job ahead of it
            b_steps = [s["processingStep"] for s in b_statuses]
            assert b_steps[-3:] == ["DOWNLOADING", "ANALYZING", "PROCESSED"], b_steps

            # Nobody else heard of the packages.
            for sock in (stranger, bystander):
                assert [p for p in sock.events(0.3) if "insights" in p["id"]] == []
        finally:
            live.close()
