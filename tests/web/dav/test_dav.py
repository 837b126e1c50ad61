"""WebDAV through the app (in process, over the ASGI bridge): access for a second user, app
passwords (revocation, disabled accounts, throttling), client quirks and streaming ``PUT``.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient
from tests.web.dav.support import Accounts

from cordvault.core.settings import Settings
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore
from cordvault.web.app import create_app

CHUNK = 64 * 1024
PROPFIND_BODY = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


@dataclass
class Dav:
    client: TestClient
    accounts: Accounts
    store: CountingChunkStore
    alice: dict[str, str]
    bob: dict[str, str]
    alice_dav: tuple[str, str]
    bob_dav: tuple[str, str]

    def req(self, who: tuple[str, str], method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, "/dav" + quote(path), auth=who, **kw)

    def names(self, who: tuple[str, str], path: str) -> list[str]:
        r = self.req(who, "PROPFIND", path, headers={"depth": "1"}, content=PROPFIND_BODY)
        assert r.status_code == 207, r.text
        hrefs = [e.text or "" for e in fromstring(r.content).iter("{DAV:}href")]
        return sorted(unquote(h).rstrip("/").rsplit("/", 1)[-1] for h in hrefs[1:])


@pytest.fixture
def dav(db_url: str, data_dir: Path) -> Iterator[Dav]:
    settings = Settings(
        data_dir=data_dir,
        database_url=db_url,
        drive_chunk_size=CHUNK,
        drive_gc_interval_seconds=3600,
        # The catalog writer stores records through the same (counted) chunk store.
        drive_catalog=False,
        drive_login_max_failures=3,
        drive_secret_key=None,
        message_encryption_key=None,
        storage_backend="local",
        storage_path=None,
    )
    app = create_app(settings, domains=("cordvault.web.drive", "cordvault.web.dav"))
    store = CountingChunkStore(LocalChunkStore(data_dir / "chunks", fsync=False))
    app.state.services.drive.replace_store(store)
    with TestClient(app) as client:
        accounts = Accounts(client)
        alice = accounts.register("alice")
        bob = accounts.add_user(alice, "bob")
        _a, alice_secret = accounts.app_password(alice)
        _b, bob_secret = accounts.app_password(bob)
        yield Dav(client, accounts, store, alice, bob, ("alice", alice_secret), ("bob", bob_secret))


def test_a_second_user_cannot_touch_a_private_file(dav: Dav) -> None:
    a, b = dav.alice_dav, dav.bob_dav
    assert dav.req(a, "MKCOL", "/shared-tree").status_code == 201
    assert dav.req(a, "PUT", "/secret.txt", content=b"alice only").status_code == 201
    assert dav.req(a, "PUT", "/shared-tree/inner.txt", content=b"inner").status_code == 201
    # Folders are one tree; her private files are not listed for him, nor found.
    assert dav.names(b, "/") == ["shared-tree"]
    assert dav.names(b, "/shared-tree") == []
    assert dav.names(a, "/") == ["secret.txt", "shared-tree"]
    assert dav.req(b, "GET", "/secret.txt").status_code == 404
    assert dav.req(b, "HEAD", "/secret.txt").status_code == 404
    depth0 = dav.req(b, "PROPFIND", "/secret.txt", headers={"depth": "0"})
    assert depth0.status_code == 404
    # Overwrite, move, copy onto, delete, lock, proppatch: refused, and nothing changed.
    assert dav.req(b, "PUT", "/secret.txt", content=b"bob was here").status_code == 403
    assert dav.req(b, "PUT", "/shared-tree/mine.txt", content=b"x").status_code == 403
    move = dav.req(b, "MOVE", "/secret.txt", headers={"destination": "/dav/stolen.txt"})
    assert move.status_code == 404
    assert dav.req(b, "DELETE", "/secret.txt").status_code == 404
    assert dav.req(b, "DELETE", "/shared-tree").status_code == 403
    lock = dav.req(b, "LOCK", "/secret.txt", headers={"timeout": "Second-60"}, content=_LOCK)
    assert lock.status_code == 409  # no lock-null file over a name that is taken
    assert dav.req(a, "GET", "/secret.txt").content == b"alice only"
    assert dav.names(a, "/") == ["secret.txt", "shared-tree"]
    # Moving his own file over hers is refused too.
    assert dav.req(b, "PUT", "/bobs.txt", content=b"bob").status_code == 201
    over = dav.req(
        b, "MOVE", "/bobs.txt", headers={"destination": "/dav/secret.txt", "overwrite": "T"}
    )
    assert over.status_code == 403
    assert dav.req(a, "GET", "/secret.txt").content == b"alice only"


def test_a_read_share_is_readable_but_not_writable_or_lockable(dav: Dav) -> None:
    a, b = dav.alice_dav, dav.bob_dav
    assert dav.req(a, "PUT", "/report.txt", content=b"v1").status_code == 201
    file_id = dav.client.get(
        "/api/drive/resolve", params={"path": "/report.txt"}, headers=dav.alice
    ).json()["file"]["id"]
    r = dav.client.put(
        f"/api/drive/files/{file_id}/shares/bob", json={"access": "read"}, headers=dav.alice
    )
    assert r.status_code == 200, r.text
    assert "report.txt" in dav.names(b, "/")
    assert dav.req(b, "GET", "/report.txt").content == b"v1"
    assert dav.req(b, "PUT", "/report.txt", content=b"v2").status_code == 403
    lock = dav.req(b, "LOCK", "/report.txt", headers={"timeout": "Second-60"}, content=_LOCK)
    assert lock.status_code == 403
    move = dav.req(b, "MOVE", "/report.txt", headers={"destination": "/dav/mine.txt"})
    assert move.status_code == 403
    assert dav.req(b, "DELETE", "/report.txt").status_code == 403
    # The owner still can.
    lock = dav.req(a, "LOCK", "/report.txt", headers={"timeout": "Second-60"}, content=_LOCK)
    assert lock.status_code == 200, lock.text


def test_revoked_app_password_and_disabled_account_fail_at_the_next_request(dav: Dav) -> None:
    b = dav.bob_dav
    assert dav.req(b, "PROPFIND", "/", headers={"depth": "0"}).status_code == 207  # cached now
    listed = dav.client.get("/api/auth/app-passwords", headers=dav.bob).json()
    assert [p["name"] for p in listed] == ["laptop"]
    assert listed[0]["last_used_at"] is not None
    assert listed[0]["password"] is None
    r = dav.client.delete(f"/api/auth/app-passwords/{listed[0]['id']}", headers=dav.bob)
    assert r.status_code == 204
    refused = dav.req(b, "PROPFIND", "/", headers={"depth": "0"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic ")
    # A disabled account: every app password stops at once.
    _id, secret = dav.accounts.app_password(dav.bob, "phone")
    assert dav.req(("bob", secret), "GET", "/").status_code == 403  # a folder: no listing page
    bob_id = dav.client.get("/api/auth/me", headers=dav.bob).json()["id"]
    r = dav.client.patch(f"/api/auth/users/{bob_id}", json={"disabled": True}, headers=dav.alice)
    assert r.status_code == 200, r.text
    assert dav.req(("bob", secret), "GET", "/").status_code == 401


def test_basic_auth_takes_app_passwords_only_and_is_throttled(dav: Dav) -> None:
    from tests.web.dav.support import PASSWORD

    assert dav.client.request("PROPFIND", "/dav/").status_code == 401
    assert dav.req(("alice", PASSWORD), "PROPFIND", "/").status_code == 401  # account password
    assert dav.req(("nobody", "x"), "PROPFIND", "/").status_code == 401
    for _ in range(2):
        assert dav.req(("alice", "wrong"), "PROPFIND", "/").status_code == 401
    # Three failures (one with her account password) used up alice's budget: even the right
    # app password waits, like a sign-in would.
    throttled = dav.req(dav.alice_dav, "PROPFIND", "/", headers={"depth": "0"})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    r = dav.client.post("/api/auth/login", json={"name": "alice", "password": PASSWORD})
    assert r.status_code == 429


def test_client_quirks(dav: Dav) -> None:
    a = dav.alice_dav
    options = dav.req(a, "OPTIONS", "/")
    assert options.headers["ms-author-via"] == "DAV"
    assert "2" in options.headers["dav"]
    # Finder's AppleDouble files and .DS_Store are ordinary small files; a missing one is 404.
    assert dav.req(a, "PUT", "/._photo.jpg", content=b"\x00\x05\x16\x07").status_code == 201
    assert dav.req(a, "PUT", "/.DS_Store", content=b"Bud1").status_code == 201
    assert dav.req(a, "PROPFIND", "/._missing", headers={"depth": "0"}).status_code == 404
    # NFD from macOS and NFC from elsewhere name the same file; listings show NFC.
    nfc = "Café déjà vu.txt"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert dav.req(a, "PUT", "/" + nfd, content=b"accents").status_code == 201
    assert dav.req(a, "GET", "/" + nfc).content == b"accents"
    assert nfc in dav.names(a, "/")
    assert dav.req(a, "PUT", "/" + nfc, content=b"again").status_code == 204  # same file
    # Percent-encoded reserved characters, and a folder with and without a trailing slash.
    assert dav.req(a, "MKCOL", "/a folder #1").status_code == 201
    odd = "/a folder #1/100% [done] & more?.txt"
    assert dav.req(a, "PUT", odd, content=b"odd").status_code == 201
    assert dav.req(a, "GET", odd).content == b"odd"
    for path in ("/a folder #1", "/a folder #1/"):
        assert dav.req(a, "PROPFIND", path, headers={"depth": "0"}).status_code == 207
    # A name the drive can never hold is "not found", never a server error.
    assert dav.req(a, "GET", "/bad\u202ename.txt").status_code == 404
    assert dav.req(a, "PUT", "/bad\u202ename.txt", content=b"x").status_code == 400
    # Unbounded PROPFIND is refused with the RFC's precondition.
    deep = dav.req(a, "PROPFIND", "/", headers={"depth": "infinity"})
    assert deep.status_code == 403
    assert b"propfind-finite-depth" in deep.content


def test_put_streams_into_chunks_and_get_serves_ranges(dav: Dav) -> None:
    a = dav.alice_dav
    data = bytes(range(256)) * (5 * CHUNK // 256) + b"tail"

    def body() -> Iterator[bytes]:  # chunked transfer encoding, like Finder
        for i in range(0, len(data), 10_000):
            yield data[i : i + 10_000]

    before = dav.store.counters.puts
    assert dav.req(a, "PUT", "/big.bin", content=body()).status_code == 201
    assert dav.store.counters.puts - before == 6  # five full chunks and the tail, nothing else
    head = dav.req(a, "HEAD", "/big.bin")
    assert int(head.headers["content-length"]) == len(data)
    etag = head.headers["etag"]
    part = dav.req(a, "GET", "/big.bin", headers={"range": f"bytes={CHUNK - 3}-{CHUNK + 3}"})
    assert part.status_code == 206
    assert part.content == data[CHUNK - 3 : CHUNK + 4]
    assert dav.req(a, "GET", "/big.bin", headers={"if-none-match": etag}).status_code == 304
    # COPY re-encrypts into a new file; the original stays.
    copy = dav.req(a, "COPY", "/big.bin", headers={"destination": "/dav/copy.bin"})
    assert copy.status_code == 201
    assert dav.req(a, "GET", "/copy.bin").content == data


def test_dead_properties_follow_a_rename_and_quota_is_reported(dav: Dav) -> None:
    a = dav.alice_dav
    assert dav.req(a, "MKCOL", "/docs").status_code == 201
    assert dav.req(a, "PUT", "/docs/one.txt", content=b"12345").status_code == 201
    patch = (
        b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:">'
        b"<D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set></D:propertyupdate>"
    )
    assert dav.req(a, "PROPPATCH", "/docs/one.txt", content=patch).status_code == 207
    assert dav.req(dav.bob_dav, "PROPPATCH", "/docs", content=patch).status_code in (207, 403)
    file_id = dav.client.get(
        "/api/drive/resolve", params={"path": "/docs/one.txt"}, headers=dav.alice
    ).json()["file"]["id"]
    r = dav.client.patch(f"/api/drive/files/{file_id}", json={"name": "two.txt"}, headers=dav.alice)
    assert r.status_code == 200, r.text
    named = (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test:"><D:prop>'
        b"<Z:colour/><D:quota-used-bytes/></D:prop></D:propfind>"
    )
    r = dav.req(a, "PROPFIND", "/docs/two.txt", headers={"depth": "0"}, content=named)
    assert r.status_code == 207
    assert b"blue" in r.content
    r = dav.req(a, "PROPFIND", "/docs", headers={"depth": "0"}, content=named)
    assert b"quota-used-bytes>5<" in r.content.replace(b"ns0:", b"")


_LOCK = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"
)


_LISTING_BODIES = (
    PROPFIND_BODY,
    b"",  # an empty body means allprop
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>',
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test:"><D:prop>'
    b"<D:displayname/><D:getetag/><D:resourcetype/><D:getcontentlength/><D:nothing/>"
    b"<Z:colour/><D:lockdiscovery/><D:supportedlock/><D:quota-used-bytes/>"
    b"<D:getlastmodified/></D:prop></D:propfind>",
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:nothing/><D:getetag/>'
    b"<D:displayname/></D:prop></D:propfind>",
)


def _responses(body: bytes) -> list[bytes]:
    # Lock timeouts count down between two requests: compare them as a token.
    body = re.sub(rb"Second-\d+", b"Second-N", body)
    return re.findall(rb"<D:response[ >].*?</D:response>", body, flags=re.DOTALL)


def test_a_folder_listing_answers_what_wsgidav_answers_for_each_member(dav: Dav) -> None:
    """``PROPFIND Depth: 1`` of a folder is written by the listing fast path (.listing): each
    member's ``<response>`` is byte for byte WsgiDAV's own ``Depth: 0`` answer for it, for
    allprop, an empty body, propname and named properties, for the owner and another user
    (who may not lock her files), with dead properties, an active lock and odd names."""
    a, b = dav.alice_dav, dav.bob_dav
    assert dav.req(a, "MKCOL", "/docs").status_code == 201
    assert dav.req(a, "MKCOL", "/docs/sub & <co>").status_code == 201
    for name in ("plain.txt", "a&b <c>.txt", "ü é (1).txt", "coloured.txt", "locked.txt"):
        assert dav.req(a, "PUT", f"/docs/{name}", content=b"12345").status_code == 201
    patch = (
        b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:">'
        b"<D:set><D:prop><Z:colour>blue &amp; green</Z:colour></D:prop></D:set>"
        b"</D:propertyupdate>"
    )
    assert dav.req(a, "PROPPATCH", "/docs/coloured.txt", content=patch).status_code == 207
    lock = dav.req(a, "LOCK", "/docs/locked.txt", headers={"timeout": "Second-600"}, content=_LOCK)
    assert lock.status_code == 200
    file_id = dav.client.get(
        "/api/drive/resolve", params={"path": "/docs/plain.txt"}, headers=dav.alice
    ).json()["file"]["id"]
    dav.client.patch(f"/api/drive/files/{file_id}", json={"public": True}, headers=dav.alice)
    for who, count in ((a, 7), (b, 3)):  # bob: the folders and the public file
        for body in _LISTING_BODIES:
            r = dav.req(who, "PROPFIND", "/docs", headers={"depth": "1"}, content=body)
            assert r.status_code == 207, r.text
            listed = _responses(r.content)
            assert len(listed) == count
            for response in listed:
                href = re.search(rb"<D:href>(.*?)</D:href>", response)
                assert href is not None
                path = unquote(href.group(1).decode()).removeprefix("/dav")
                alone = dav.req(who, "PROPFIND", path, headers={"depth": "0"}, content=body)
                assert alone.status_code == 207
                assert _responses(alone.content) == [response], path


def test_basic_failures_name_the_client_as_the_rest_api_does(db_url: str, data_dir: Path) -> None:
    """Behind a trusted proxy, a WebDAV sign-in failure is logged against the same client
    address as a REST one with the same headers: every ``X-Forwarded-For`` line is read, not
    only the last (a proxy that appends its own line must not hide the real client)."""
    from tests.web.dav.support import PASSWORD

    settings = Settings(
        data_dir=data_dir,
        database_url=db_url,
        drive_catalog=False,
        drive_secret_key=None,
        message_encryption_key=None,
        storage_backend="local",
        storage_path=None,
        trusted_proxies="127.0.0.1",
    )
    app = create_app(settings, domains=("cordvault.web.drive", "cordvault.web.dav"))
    forwarded = [("x-forwarded-for", "203.0.113.7"), ("x-forwarded-for", "127.0.0.1")]
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        alice = Accounts(client).register("alice")
        dav_fail = client.request("PROPFIND", "/dav/", auth=("alice", "wrong"), headers=forwarded)
        assert dav_fail.status_code == 401
        rest_fail = client.post(
            "/api/auth/login", json={"name": "alice", "password": "wrong"}, headers=forwarded
        )
        assert rest_fail.status_code == 401
        log = client.get("/api/auth/security-log", headers=alice).json()
    failures = [e for e in log if e["kind"] == "signin.failure"]
    assert len(failures) == 2, log
    assert {e["client_address"] for e in failures} == {"203.0.113.7"}
    assert PASSWORD not in str(log)
