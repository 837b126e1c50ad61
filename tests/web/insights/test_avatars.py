"""``GET /process/<id>/user/<user_id>/avatar``: the avatar image through our origin, against the
Discord emulator's API and CDN. Authorised exactly like ``/user``; the CDN URL is built by the
server from the looked-up user, so nothing a client or a user profile says can send the server
elsewhere (a recording "victim" server proves no request reached it); only raster images under
the cap pass; answers are cached."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.insights_server import bearer, insights_client, new_upn

from cordvault.core.settings import Settings
from cordvault.discord.avatars import MAX_AVATAR_BYTES
from cordvault.discord.emulator import EmulatorConfig, FaultRule, running_emulator
from cordvault.discord.emulator.avatars import avatar_png
from cordvault.discord.emulator.server import EmulatorHandle
from cordvault.insights.jobs.package_links import package_id_for

NELLY = "80351110224678912"
NELLY_HASH = "8342729096ea3675442027381ff50dfe"
PLAIN = "1100000000000000000"  # no avatar, legacy discriminator 1337: default avatar 1337 % 5
SHADY = "1200000000000000000"  # a profile whose "avatar" is a URL or a path
UNKNOWN = "123456789012345678"


class Victim:
    """An HTTP server that records every request (nothing may ever reach it), and that can
    play a CDN answering every request with a redirect to itself."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.paths.append(self.path)
                if self.path.startswith("/redirecting-cdn/"):
                    self.send_response(302)
                    self.send_header("Location", f"{owner.base}/stolen")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = avatar_png("victim")
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def victim() -> Iterator[Victim]:
    v = Victim()
    yield v
    v.close()


@pytest.fixture
def emulator(victim: Victim) -> Iterator[EmulatorHandle]:
    config = EmulatorConfig()
    config.users[NELLY] = {
        "username": "nelly",
        "global_name": "Nelly",
        "avatar": NELLY_HASH,
        "discriminator": "0",
    }
    config.users[PLAIN] = {"username": "old", "avatar": None, "discriminator": "1337"}
    config.users[SHADY] = {
        "username": "shady",
        "avatar": f"{victim.base}/from-profile",
        "discriminator": "0",
    }
    with running_emulator(config) as emu:
        yield emu


def _client(settings: Settings) -> tuple[TestClient, str, str]:
    client = insights_client(settings)
    upn = new_upn()
    link = f"https://click.discord.com/ls/click?upn={upn}"
    pid = client.post("/process", json={"package_link": link}).json()["packageId"]
    return client, pid, upn


@pytest.fixture
def client_and_id(
    emulator: EmulatorHandle, make_settings: Callable[..., Settings]
) -> tuple[TestClient, str, str]:
    return _client(
        make_settings(
            discord_api_base=emulator.api_base,
            discord_bot_token=emulator.token,
            discord_cdn_base=emulator.base_url + "/cdn",
        )
    )


def _cdn_requests(emulator: EmulatorHandle) -> int:
    stats = emulator.state.stats()
    return stats.requests["GET /cdn/avatars"] + stats.requests["GET /cdn/embed/avatars"]


def test_the_avatar_comes_through_our_origin_and_is_cached(
    client_and_id: tuple[TestClient, str, str], emulator: EmulatorHandle
) -> None:
    client, pid, upn = client_and_id
    first = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    assert first.content == avatar_png(f"{NELLY}/{NELLY_HASH}")
    assert first.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in first.headers["content-security-policy"]
    # The JSON lookup keeps the Dumpus contract's avatar_url (the real CDN, not our route).
    user = client.get(f"/process/{pid}/user/{NELLY}", headers=bearer(upn)).json()
    assert user["avatar_url"] == f"https://cdn.discordapp.com/avatars/{NELLY}/{NELLY_HASH}.png"
    # No avatar set: Discord's default avatar for a legacy discriminator (1337 % 5 = 2).
    plain = client.get(f"/process/{pid}/user/{PLAIN}/avatar", headers=bearer(upn))
    assert plain.status_code == 200
    assert plain.content == avatar_png("embed/2")
    assert _cdn_requests(emulator) == 2
    # Cached: Discord's API and CDN both failing now changes nothing.
    emulator.add_fault(FaultRule("GET *", "503"))
    again = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert again.status_code == 200
    assert again.content == first.content
    assert _cdn_requests(emulator) == 2
    # The bot token never went to the CDN.
    assert emulator.state.stats().cdn_requests_with_authorization == 0


def test_the_avatar_is_authorised_like_the_user_lookup(
    client_and_id: tuple[TestClient, str, str], emulator: EmulatorHandle
) -> None:
    client, pid, upn = client_and_id
    url = f"/process/{pid}/user/{NELLY}/avatar"
    assert client.get(url).status_code == 401
    wrong = client.get(url, headers=bearer(new_upn()))
    assert wrong.status_code == 401
    assert wrong.json()["errorMessageCode"] == "UNAUTHORIZED"
    assert client.get(url, headers={"Authorization": "Basic abc"}).status_code == 401
    # A key that matches its package id, but no such package on this server.
    other = new_upn()
    missing = client.get(
        f"/process/{package_id_for(other)}/user/{NELLY}/avatar", headers=bearer(other)
    )
    assert missing.status_code == 404
    assert missing.json()["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    # A deleted package is gone for avatars too.
    client.delete(f"/process/{pid}", headers=bearer(upn))
    assert client.get(url, headers=bearer(upn)).status_code == 404
    assert _cdn_requests(emulator) == 0
    assert emulator.state.stats().requests["GET /users/{user_id}"] == 0


def test_unknown_users_and_bad_ids(
    client_and_id: tuple[TestClient, str, str], emulator: EmulatorHandle
) -> None:
    client, pid, upn = client_and_id
    unknown = client.get(f"/process/{pid}/user/{UNKNOWN}/avatar", headers=bearer(upn))
    assert unknown.status_code == 404
    assert unknown.json()["errorMessageCode"] == "NOT_FOUND"
    for bad in ("not-an-id", "1" * 21, "12%2F..%2F34"):
        response = client.get(f"/process/{pid}/user/{bad}/avatar", headers=bearer(upn))
        assert response.status_code in (400, 404), bad
        assert response.headers["content-type"].startswith("application/json"), bad
    # Discord failing or rate limiting at the CDN (the faults answer before its route).
    emulator.add_fault(FaultRule("GET /cdn/avatars/*", "503", times=1))
    failing = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert failing.status_code == 502
    assert failing.json()["errorMessageCode"] == "UPSTREAM_ERROR"
    emulator.add_fault(FaultRule("GET /cdn/avatars/*", "429", retry_after=3.0, times=1))
    limited = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert limited.status_code == 429
    assert limited.json()["errorMessageCode"] == "RATE_LIMITED"
    assert _cdn_requests(emulator) == 0
    # The user changed their avatar since the (cached) lookup: the CDN has no such image.
    emulator.state.config.users[NELLY] = {
        **emulator.state.config.users[NELLY],
        "avatar": "0" * 32,
    }
    gone = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert gone.status_code == 404
    assert gone.json()["errorMessageCode"] == "NOT_FOUND"
    assert _cdn_requests(emulator) == 1


def test_no_request_goes_anywhere_but_the_configured_cdn(
    client_and_id: tuple[TestClient, str, str],
    emulator: EmulatorHandle,
    victim: Victim,
    make_settings: Callable[..., Settings],
) -> None:
    client, pid, upn = client_and_id
    # A URL in the query is not an input of this route.
    asked = client.get(
        f"/process/{pid}/user/{NELLY}/avatar",
        params={"url": f"{victim.base}/from-query", "avatar_url": f"{victim.base}/x"},
        headers=bearer(upn),
    )
    assert asked.status_code == 200
    assert asked.content == avatar_png(f"{NELLY}/{NELLY_HASH}")
    # A profile whose avatar "hash" is a URL gets the default avatar, from the CDN.
    shady = client.get(f"/process/{pid}/user/{SHADY}/avatar", headers=bearer(upn))
    assert shady.status_code == 200
    assert shady.content == avatar_png(f"embed/{(int(SHADY) >> 22) % 6}")
    # Path tricks in the user id never reach a fetch.
    for trick in (f"{victim.base}/x", "..%2F..%2F_emulator%2Fstats", "%2e%2e"):
        response = client.get(f"/process/{pid}/user/{trick}/avatar", headers=bearer(upn))
        assert response.status_code in (400, 404), trick
    assert victim.paths == []
    # A CDN answering with a redirect: not followed.
    redirecting, rpid, rupn = _client(
        make_settings(
            discord_api_base=emulator.api_base,
            discord_bot_token=emulator.token,
            discord_cdn_base=f"{victim.base}/redirecting-cdn",
        )
    )
    answer = redirecting.get(f"/process/{rpid}/user/{NELLY}/avatar", headers=bearer(rupn))
    assert answer.status_code == 502
    assert victim.paths == [f"/redirecting-cdn/avatars/{NELLY}/{NELLY_HASH}.png?size=128"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "image/svg+xml", id="svg"
        ),
        pytest.param(b"<html><script>alert(1)</script></html>", "text/html", id="html"),
        pytest.param(avatar_png("x"), "text/html", id="png-as-html"),
        pytest.param(b"<html>not a png</html>", "image/png", id="html-as-png"),
        pytest.param(avatar_png("x"), "image/gif", id="png-as-gif"),
        pytest.param(avatar_png("x") + b"\0" * MAX_AVATAR_BYTES, "image/png", id="over-the-cap"),
    ],
)
def test_only_raster_images_under_the_cap_pass(
    client_and_id: tuple[TestClient, str, str],
    emulator: EmulatorHandle,
    body: bytes,
    content_type: str,
) -> None:
    client, pid, upn = client_and_id
    emulator.state.config.avatar_overrides[NELLY_HASH] = (body, content_type)
    response = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert response.status_code == 502
    assert response.json()["errorMessageCode"] == "UPSTREAM_ERROR"
    assert body not in response.content
    # The CDN did answer (the refusal is ours), and a refusal is not cached.
    assert emulator.state.stats().requests["GET /cdn/avatars"] == 1
    del emulator.state.config.avatar_overrides[NELLY_HASH]
    fixed = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert fixed.status_code == 200
    assert fixed.content == avatar_png(f"{NELLY}/{NELLY_HASH}")


def test_without_a_bot_token_the_avatar_route_says_so(
    make_settings: Callable[..., Settings],
) -> None:
    client, pid, upn = _client(make_settings())
    response = client.get(f"/process/{pid}/user/{NELLY}/avatar", headers=bearer(upn))
    assert response.status_code == 500
    assert response.json()["errorMessageCode"] == "MISSING_SETTINGS"
