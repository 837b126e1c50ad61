"""Browser tests of the pages: the real app under uvicorn in a thread, Debian's chromium driven
by Playwright (its own browser download is not used: ``executable_path``).

- ``live`` (module scope): a server with an administrator ``admin`` (bearer token in
  ``live.admin_token``), 64 KiB chunks (multi-chunk uploads stay small), SQLite in a temp dir.
- ``fresh_server``: an empty server (first-run setup).
- ``context_factory``: new browser contexts; every page's console messages and page errors are
  recorded, and when the test fails a screenshot of each open page and the console log are
  saved under ``tests/artifacts/<test name>/`` (git-ignored; CI keeps the folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from tests.support.live_server import serving
from tests.support.settings import local_settings

from cordvault.core.settings import Settings
from cordvault.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = os.environ.get("CORDVAULT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"


@dataclass
class Live:
    base: str
    admin_token: str = ""
    users: dict[str, str] = field(default_factory=dict)

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"authorization": f"Bearer {token}"}, timeout=30
        )

    def user(self, name: str) -> str:
        """Create the account ``name`` (password :data:`PASSWORD`) once; its bearer token."""
        if name not in self.users:
            with self.api(self.admin_token) as c:
                c.post("/api/auth/users", json={"name": name, "password": PASSWORD})
            r = httpx.post(f"{self.base}/api/auth/login", json={"name": name, "password": PASSWORD})
            r.raise_for_status()
            self.users[name] = r.json()["token"]
        return self.users[name]


def _Server(settings: Settings) -> AbstractContextManager[str]:
    """The app of ``settings`` under uvicorn in a thread, on a free loopback port, with its
    lifespan; entering yields the base URL."""
    return serving(create_app(settings))


def page_settings(data_dir: Path) -> Settings:
    return local_settings(data_dir, drive_chunk_size=64 * 1024, drive_gc_grace_seconds=0)


def _data_dir(factory: pytest.TempPathFactory) -> Path:
    d = factory.mktemp("pages") / "data"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with _Server(page_settings(_data_dir(tmp_path_factory))) as base:
        r = httpx.post(f"{base}/api/auth/register", json={"name": "admin", "password": PASSWORD})
        r.raise_for_status()
        yield Live(base, admin_token=r.json()["token"])


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _Server(page_settings(_data_dir(tmp_path_factory))) as base:
        yield base


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, so any later test outside this package that calls
    # asyncio.run() would fail ("cannot be called from a running event loop").
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield b
    b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()
ContextFactory = Callable[..., BrowserContext]


@pytest.fixture
def context_factory(browser: Browser, request: pytest.FixtureRequest) -> Iterator[ContextFactory]:
    contexts: list[BrowserContext] = []
    console: list[str] = []

    def make(**options: object) -> BrowserContext:
        settings: dict[str, object] = {"viewport": {"width": 1100, "height": 760}, **options}
        ctx = browser.new_context(**settings)  # type: ignore[arg-type]
        ctx.set_default_timeout(15_000)
        n = len(contexts)

        def on_page(page: Page) -> None:
            page.on("console", lambda m: console.append(f"[ctx{n}] {m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"[ctx{n}] pageerror: {e}"))

        ctx.on("page", on_page)
        contexts.append(ctx)
        return ctx

    yield make
    if request.node.stash.get(_FAILED, False):
        out = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
        out.mkdir(parents=True, exist_ok=True)
        for i, ctx in enumerate(contexts):
            for j, page in enumerate(ctx.pages):
                try:
                    page.screenshot(path=str(out / f"ctx{i}-page{j}.png"), full_page=True)
                except Exception as exc:
                    console.append(f"screenshot failed: {exc}")
        (out / "console.log").write_text("\n".join(console) + "\n")
    for ctx in contexts:
        ctx.close()


def sign_in(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/drive**")


def upload_bytes(live: Live, token: str, path: str, data: bytes) -> dict[str, object]:
    """Store a file through the API (a test's fixture data, not the flow under test)."""
    with live.api(token) as c:
        r = c.put(
            "/api/drive/upload", params={"path": path, "on_conflict": "overwrite"}, content=data
        )
        r.raise_for_status()
        file: dict[str, object] = r.json()["file"]
        return file
