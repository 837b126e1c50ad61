"""/api/ws signed in by the web pages' session cookie, with the Origin check (real server)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.live_server import Socket
from tests.web.live.conftest import Live
from websockets.exceptions import InvalidStatus


def _cookie_socket(live: Live, token: str | None, origin: str | None) -> Socket:
    headers = {"Cookie": f"cv_session={token}"} if token else {}
    kw = {"origin": origin} if origin else {}
    sock = Socket(live.base, additional_headers=headers, **kw)
    live.sockets.append(sock)
    return sock


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_session_cookie_signs_a_same_origin_socket_in(make_live: Callable[..., Live]) -> None:
    live = make_live(live_auth_timeout_seconds=0.5)
    alice = live.token("alice")

    # The cookie and the server's own origin: signed in at once, no c2s:auth needed.
    sock = _cookie_socket(live, alice, live.base)
    hello = sock.recv()
    assert hello["id"] == "s2c:auth-ok"
    assert hello["data"]["user"]["name"] == "alice"
    assert sock.request("c2s:ping")["id"] == "s2c:pong"
    row = live.put(alice, "/a.txt", b"a")
    assert [p["data"]["handle"]["id"] for p in sock.events()] == [row["id"]]
    # c2s:auth after the cookie signed in is refused like a second c2s:auth.
    assert sock.request("c2s:auth", {"token": alice})["data"]["code"] == "UNKNOWN_PACKET"

    # The cookie from another origin (or a same-site sibling, or no Origin): refused at the
    # handshake, before anything is sent.
    for origin in ("http://evil.example", live.base.replace("127.0.0.1", "localhost"), None):
        with pytest.raises(InvalidStatus) as refused:
            _cookie_socket(live, alice, origin)
        assert refused.value.response.status_code == 403

    # A bad cookie on the right origin: UNAUTHORIZED, closed 4401.
    sock = _cookie_socket(live, alice + "x", live.base)
    assert sock.recv()["data"]["code"] == "UNAUTHORIZED"
    assert sock.close_code() == 4401

    # No cookie and no token: not signed in (the first packet decides, then the timeout).
    sock = _cookie_socket(live, None, live.base)
    assert sock.request("c2s:ping")["data"]["code"] == "UNAUTHORIZED"
    assert sock.close_code() == 4401
    sock = _cookie_socket(live, None, "http://evil.example")
    assert sock.recv()["data"]["code"] == "UNAUTHORIZED"
    assert sock.close_code() == 4408

    # The bearer in the first packet still works from any origin (a page there cannot read it).
    sock = _cookie_socket(live, None, "http://evil.example")
    assert sock.auth(alice)["id"] == "s2c:auth-ok"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_public_url_is_the_only_origin_when_set(make_live: Callable[..., Live]) -> None:
    live = make_live(public_url="https://drive.example.org/")
    alice = live.token("alice")
    sock = _cookie_socket(live, alice, "https://drive.example.org")
    assert sock.recv()["id"] == "s2c:auth-ok"
    for origin in (live.base, "http://drive.example.org", "https://drive.example.org:8443"):
        with pytest.raises(InvalidStatus):
            _cookie_socket(live, alice, origin)
