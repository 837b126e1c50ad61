"""The trash and search pages without a browser: they need a session, the search page echoes
its query escaped and cut to the API's limit, and with the trash turned off
(``DRIVE_TRASH_RETENTION_DAYS=0``) the pages say deleting is final."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.pages.conftest import PASSWORD, page_settings

from cordvault.web.app import create_app


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = page_settings(data_dir).model_copy(update={"drive_trash_retention_days": 0})
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def _sign_in(client: TestClient) -> None:
    r = client.post("/api/auth/register", json={"name": "admin", "password": PASSWORD})
    assert r.status_code in (200, 201), r.text
    client.cookies.set("cv_session", r.json()["token"])


def test_pages_need_a_session(client: TestClient) -> None:
    client.post("/api/auth/register", json={"name": "admin", "password": PASSWORD})
    for path in ("/trash", "/search?q=x"):
        r = client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"] == "/login"


def test_trash_off_and_search_query_escaped(client: TestClient) -> None:
    _sign_in(client)
    trash = client.get("/trash")
    assert trash.status_code == 200
    assert "The trash is turned off" in trash.text
    assert 'data-trash-days="0"' in client.get("/drive").text
    nav = client.get("/shared").text
    assert '<a href="/trash">Trash</a>' in nav
    assert 'action="/search"' in nav
    q = '"><script>alert(1)</script>' + "x" * 300
    page = client.get("/search", params={"q": q}).text
    assert "<script>alert" not in page
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x" * 173 + '"' in page  # cut at 200 characters
    assert "x" * 174 not in page
