"""Page security without a browser (SQLite and PostgreSQL): CSRF on forms and on cookie
fetches, cookie attributes, the CSP and friends, no inline script and no other origin in any
page or our static files, CORS without credentials, and a second user's cookie never reaching
another's private file."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.settings import local_settings
from tests.web.pages.conftest import PASSWORD

from cordvault.web.app import create_app
from cordvault.web.pages.render import STATIC_DIR

PAGES = [
    "/drive",
    "/shared",
    "/trash",
    "/search?q=x",
    "/account",
    "/admin",
    "/view/x",
    "/fl/x",
    "/docs",
    "/redoc",
    "/insights",
    "/insights/dashboard",
]
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def client(db_url: str, data_dir: Path) -> Iterator[TestClient]:
    settings = local_settings(data_dir, database_url=db_url)
    with TestClient(
        create_app(settings), base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c


def _setup(client: TestClient) -> None:
    page = client.get("/setup")
    token = _CSRF_FIELD.search(page.text)
    assert token is not None
    r = client.post(
        "/setup",
        data={"name": "admin", "password": PASSWORD, "password2": PASSWORD, "csrf": token[1]},
    )
    assert r.status_code == 303


def test_forms_and_cookie_fetches_need_the_csrf_token(client: TestClient) -> None:
    refused = client.post(
        "/setup", data={"name": "admin", "password": PASSWORD, "password2": PASSWORD}
    )
    assert refused.status_code == 403
    assert "expired" in refused.text
    assert "cv_session" not in refused.cookies
    _setup(client)
    cookie = client.cookies.get("cv_session")
    assert cookie
    meta = _CSRF_META.search(client.get("/drive").text)
    assert meta is not None
    # A fetch signed in by the cookie: refused without the token, allowed with it.
    r = client.post("/api/drive/folders", json={"name": "x"})
    assert r.status_code == 403
    assert r.json()["errorMessageCode"] == "CSRF_FAILED"
    r = client.post("/api/drive/folders", json={"name": "x"}, headers={"x-csrf-token": "0" * 64})
    assert r.status_code == 403
    r = client.post("/api/drive/folders", json={"name": "x"}, headers={"x-csrf-token": meta[1]})
    assert r.status_code == 201
    assert client.get("/api/auth/me").json()["name"] == "admin"  # reads need no token
    # The newer pages' writes too: app passwords, quotas, folder shares and links.
    folder_id = r.json()["id"]
    for method, path, body in (
        ("POST", "/api/auth/app-passwords", {"name": "laptop"}),
        ("PUT", "/api/drive/quotas/admin", {"limit": 10}),
        ("PATCH", f"/api/drive/folders/{folder_id}", {"public": True}),
        ("POST", f"/api/drive/folders/{folder_id}/links", {}),
    ):
        refused = client.request(method, path, json=body)
        assert refused.status_code == 403, path
        assert refused.json()["errorMessageCode"] == "CSRF_FAILED"
        done = client.request(method, path, json=body, headers={"x-csrf-token": meta[1]})
        assert done.status_code in (200, 201), (path, done.text)
    # Forms of a signed-in user: password change and sign-out refuse a missing token.
    r = client.post(
        "/account/password",
        data={"old_password": PASSWORD, "new_password": "x" * 12, "new_password2": "x" * 12},
    )
    assert r.status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/api/auth/me").status_code == 200  # still signed in
    # The bearer API needs no CSRF token (the CLI).
    login = client.post("/api/auth/login", json={"name": "admin", "password": PASSWORD})
    bearer = {"authorization": f"Bearer {login.json()['token']}"}
    client.cookies.clear()
    assert client.post("/api/drive/folders", json={"name": "y"}, headers=bearer).status_code == 201


def test_session_cookie_attributes(client: TestClient) -> None:
    _setup(client)
    r = client.post("/login", data={})
    set_cookie = r.headers.get("set-cookie", "")
    assert "cv_csrf" not in set_cookie or "HttpOnly" in set_cookie
    page = client.get("/login")  # signed in: redirected, no new nonce needed
    assert page.status_code == 303
    client.cookies.clear()
    page = client.get("/login")
    token = _CSRF_FIELD.search(page.text)
    assert token is not None
    r = client.post("/login", data={"name": "admin", "password": PASSWORD, "csrf": token[1]})
    assert r.status_code == 303
    header = r.headers["set-cookie"]
    assert header.startswith("cv_session=")
    for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/"):
        assert attribute.lower() in header.lower()


def test_headers_no_inline_script_no_other_origin(client: TestClient) -> None:
    html_pages = [client.get("/setup").text]
    _setup(client)
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert "http" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        html_pages.append(r.text)
    for html in html_pages:
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, f"inline script: {script}"
        assert not re.search(r"""(?:src|href|action)=["'](?:https?:)?//""", html)
        assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    # Our own scripts and styles load nothing from elsewhere either.
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".js", ".css", ".html") and "vendor" not in path.parts:
            assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path
    # The API answers carry the policy too; file content keeps its sandbox.
    api = client.get("/api/auth/me")
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]


def test_folder_link_page_needs_no_account_and_browsers_get_it(client: TestClient) -> None:
    _setup(client)
    meta = _CSRF_META.search(client.get("/drive").text)
    assert meta is not None
    csrf = {"x-csrf-token": meta[1]}
    folder = client.post("/api/drive/folders", json={"name": "pub"}, headers=csrf).json()
    link = client.post(f"/api/drive/folders/{folder['id']}/links", json={}, headers=csrf).json()
    token = link["token"]
    client.cookies.clear()
    page = client.get(f"/fl/{token}")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert f'data-token="{token}"' in page.text
    assert "folder_link.js" in page.text
    # A browser following the API URL lands on the page (path kept); scripts get JSON.
    browser = client.get(f"/api/drive/fl/{token}?path=/a b", headers={"accept": "text/html"})
    assert browser.status_code == 303
    assert browser.headers["location"] == f"/fl/{token}?path=/a%20b"
    listing = client.get(f"/api/drive/fl/{token}", headers={"accept": "application/json"})
    assert listing.status_code == 200
    assert listing.json()["folder"]["name"] == "pub"
    # A token is echoed escaped and bounded, never as markup.
    hostile = client.get("/fl/%22%3E%3Cb%3Ehi")
    assert hostile.status_code == 200
    assert "<b>hi" not in hostile.text
    assert 'data-token="&#34;&gt;&lt;b&gt;hi"' in hostile.text


def test_vendored_assets_carry_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    for folder in ("hash-wasm", "swagger-ui", "redoc", "pdfjs", "sql.js", "uplot"):
        assert (vendor / folder / "LICENSE").stat().st_size > 500
        assert folder in (vendor / "README.md").read_text()


def test_insights_dashboard_needs_no_account_and_may_compile_wasm(client: TestClient) -> None:
    # Nobody signed in, not even an account on the server: the page still opens (its data
    # never comes from the server), under the page policy that compiles wasm but has no eval.
    r = client.get("/insights/dashboard")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    script_src = csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "'wasm-unsafe-eval'" in script_src
    assert "'unsafe-eval'" not in script_src
    assert "connect-src 'self'" in csp
    wasm = client.get("/static/vendor/sql.js/sql-wasm.wasm")
    assert wasm.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"


def test_cors_never_allows_credentials(client: TestClient) -> None:
    r = client.options(
        "/api/drive/folders/root",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-csrf-token, content-type",
        },
    )
    assert "access-control-allow-credentials" not in r.headers
    r = client.get("/api/auth/me", headers={"origin": "https://evil.example"})
    assert "access-control-allow-credentials" not in r.headers


def test_second_user_cookie_cannot_reach_a_private_file(client: TestClient) -> None:
    _setup(client)
    meta = _CSRF_META.search(client.get("/drive").text)
    assert meta is not None
    csrf = {"x-csrf-token": meta[1]}
    up = client.put(
        "/api/drive/upload", params={"path": "/private.txt"}, content=b"mine", headers=csrf
    )
    assert up.status_code == 201
    file_id = up.json()["file"]["id"]
    made = client.post("/api/auth/users", json={"name": "eve", "password": PASSWORD}, headers=csrf)
    assert made.status_code == 201
    client.cookies.clear()
    page = client.get("/login")
    token = _CSRF_FIELD.search(page.text)
    assert token is not None
    client.post("/login", data={"name": "eve", "password": PASSWORD, "csrf": token[1]})
    meta = _CSRF_META.search(client.get("/drive").text)
    assert meta is not None
    eve = {"x-csrf-token": meta[1]}
    for method, url in [
        ("GET", f"/api/drive/files/{file_id}/content"),
        ("GET", f"/api/drive/files/{file_id}/content?inline=1"),
        ("HEAD", f"/api/drive/files/{file_id}/content"),
        ("GET", f"/api/drive/zip?file={file_id}"),
        ("POST", f"/api/drive/files/{file_id}/links"),
        ("GET", f"/api/drive/files/{file_id}/shares"),
    ]:
        r = client.request(method, url, headers=eve, json={} if method == "POST" else None)
        assert r.status_code == 403, (method, url, r.status_code)
        assert b"mine" not in r.content
    assert client.get(f"/api/drive/files/{file_id}/links").json() == []  # only one's own links
    zipped = client.get("/api/drive/zip?folder=root")
    assert zipped.status_code == 200
    assert zipped.headers["x-skipped-files"] == "1"
    assert b"private.txt" not in zipped.content
    view = client.get(f"/view/{file_id}")  # the shell: content is only ever fetched by the API
    assert b"mine" not in view.content


def test_selection_zip_holds_folders_and_files_with_unique_names(client: TestClient) -> None:
    _setup(client)
    meta = _CSRF_META.search(client.get("/drive").text)
    assert meta is not None
    csrf = {"x-csrf-token": meta[1]}
    folder = client.post("/api/drive/mkdir", params={"path": "/a.txt"}, headers=csrf).json()
    client.put("/api/drive/upload", params={"path": "/a.txt/in.txt"}, content=b"in", headers=csrf)
    client.post("/api/drive/mkdir", params={"path": "/b"}, headers=csrf)
    top = client.put("/api/drive/upload", params={"path": "/b/a.txt"}, content=b"x", headers=csrf)
    r = client.get(
        "/api/drive/zip", params={"folder": folder["id"], "file": top.json()["file"]["id"]}
    )
    assert r.status_code == 200
    members = zipfile.ZipFile(io.BytesIO(r.content))
    assert set(members.namelist()) == {"a.txt/", "a.txt/in.txt", "a.txt (2)"}
    assert members.read("a.txt (2)") == b"x"
    assert client.get("/api/drive/zip").json()["errorMessageCode"] == "INVALID_INPUT"
    too_many = [("file", "x")] * 1001
    assert client.get("/api/drive/zip", params=too_many).status_code == 400
