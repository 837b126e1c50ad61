"""axe-core (vendored in tests/web/pages/vendor) on every page, in light and dark themes and on
a phone-sized screen: no serious or critical violation, and no page wider than the screen. The
script is injected, so these contexts bypass the page policy (only here: every other test runs
under the real CSP)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes
from tests.web.pages.test_pdf_browser import two_page_pdf

from cordvault.core.settings import Settings
from cordvault.insights.analyze import analyze_package
from cordvault.insights.generator import GenOptions, generate_package

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def _violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, { resultTypes: ['violations'] })"
    )
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _check(page: Page, where: str) -> None:
    bad = _violations(page)
    summary = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    assert not bad, f"{where}: {json.dumps(summary)}"
    # Nothing widens the page past the screen (a phone would scroll the whole page sideways);
    # wide tables scroll inside their own focusable region instead.
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{where}: the page is {overflow} px wider than the screen"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"color_scheme": "light"}, id="light"),
        pytest.param(
            {"color_scheme": "dark", "viewport": {"width": 360, "height": 740}}, id="dark-phone"
        ),
    ],
)
def test_every_page_passes_axe(
    live: Live, context_factory: ContextFactory, options: dict[str, Any]
) -> None:
    token = live.user("ally")
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-a11y/sub"}).raise_for_status()
    note = upload_bytes(live, token, "/t-a11y/note.txt", b"hello\n")
    upload_bytes(live, token, "/t-a11y/note.txt", b"hello again\n")  # a version of note.txt
    old = upload_bytes(live, token, "/t-a11y/old.txt", b"old\n")
    with live.api(token) as c:
        c.delete(f"/api/drive/files/{old['id']}").raise_for_status()  # something in the trash
    pdf = upload_bytes(live, token, "/t-a11y/two.pdf", two_page_pdf())
    with live.api(token) as c:
        sub = c.get("/api/drive/resolve", params={"path": "/t-a11y/sub"}).json()["folder"]
        link = c.post(f"/api/drive/folders/{sub['id']}/links", json={}).json()
    live.user("ally-friend")
    with live.api(token) as c:
        shared = c.put(
            f"/api/drive/folders/{sub['id']}/shares/ally-friend", json={"access": "read"}
        )
        shared.raise_for_status()
    ctx = context_factory(bypass_csp=True, **options)
    page = ctx.new_page()
    page.goto(f"{live.base}/login")
    _check(page, "login")
    sign_in(page, live.base, "ally")
    page.goto(f"{live.base}/drive?path=/t-a11y")
    expect(page.get_by_role("link", name="note.txt")).to_be_visible()
    _check(page, "drive")
    page.get_by_label("Actions for note.txt").click()
    _check(page, "drive, row menu open")
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    _check(page, "share dialog")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_label("Actions for note.txt").click()
    page.get_by_role("button", name="Versions").click()
    expect(page.get_by_role("dialog").locator(".versions li").first).to_contain_text("Version")
    _check(page, "versions dialog")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_label("Actions for sub").click()
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("dialog").get_by_role("list", name="Folder links")).to_contain_text(
        "expires"
    )
    _check(page, "folder share dialog")
    page.get_by_role("dialog").get_by_role("button", name="Create link").click()
    expect(page.get_by_role("dialog").get_by_label("New link")).to_be_visible()
    _check(page, "folder share dialog, new link")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Grid").click()
    _check(page, "drive, grid")
    page.goto(f"{live.base}/trash")
    expect(page.get_by_role("button", name="Restore old.txt").first).to_be_visible()
    _check(page, "/trash")
    page.goto(f"{live.base}/search?q=note")
    expect(page.locator(".result-path").first).to_contain_text("/t-a11y")
    _check(page, "/search")
    for path in ("/shared", "/account", f"/view/{note['id']}", "/insights"):
        page.goto(f"{live.base}{path}")
        page.wait_for_load_state("networkidle")
        _check(page, path)
    page.goto(f"{live.base}/account")
    page.get_by_label("Device name").fill("phone")
    page.get_by_role("button", name="Create app password").click()
    expect(page.locator("#app-password-how")).to_be_visible()
    _check(page, "account, app password created")
    page.goto(f"{live.base}/view/{pdf['id']}")
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "1")
    _check(page, "PDF view")
    friend = ctx.new_page()
    friend.context.clear_cookies()
    friend.goto(f"{live.base}{link['url'].split('/api/drive', 1)[1]}")
    expect(friend.get_by_role("link", name="Download this folder as zip")).to_be_visible()
    _check(friend, "folder link page (no account)")
    friend.close()
    admin = ctx.new_page()
    ctx.clear_cookies()
    sign_in(admin, live.base, "admin")
    admin.goto(f"{live.base}/admin")
    expect(admin.locator("tr[data-user=ally]")).to_be_visible()
    expect(admin.locator("tr[data-quota-user=ally]")).to_be_visible()
    _check(admin, "admin")
    ctx.clear_cookies()
    sign_in(admin, live.base, "ally-friend")
    admin.goto(f"{live.base}/shared")
    folders = admin.get_by_role("list", name="Folders")
    expect(folders.get_by_role("link", name="sub")).to_be_visible()
    _check(admin, "shared with me, a folder")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"color_scheme": "light"}, id="light"),
        pytest.param(
            {"color_scheme": "dark", "viewport": {"width": 360, "height": 740}}, id="dark-phone"
        ),
    ],
)
def test_insights_dashboard_passes_axe(
    live: Live,
    context_factory: ContextFactory,
    options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db = _analysed_package(tmp_path_factory.mktemp("a11y-insights"))
    page = context_factory(bypass_csp=True, **options).new_page()
    page.goto(f"{live.base}/insights/dashboard")
    _check(page, "insights dashboard, empty")
    page.get_by_label("Or choose a result file (.sqlite) from this computer").set_input_files(db)
    expect(page.locator("#dashboard")).to_have_attribute("data-shown", re.compile("^lifetime:"))
    page.wait_for_selector("#time-body .uplot")
    page.locator("#time-body details").first.locator("summary").click()
    _check(page, "insights dashboard")
    page.locator("#lists .entry-open").first.click()
    expect(page.locator("#drill")).to_have_attribute("data-shown", re.compile("^dm:"))
    _check(page, "insights drill-down")


def _analysed_package(tmp: Path) -> Path:
    package, out = tmp / "p.zip", tmp / "p.sqlite"
    generate_package(package, GenOptions(variant="modern", seed=4, messages=800, events=1500))
    data = tmp / "data"
    data.mkdir(mode=0o700)
    analyze_package(package, out, settings=Settings(data_dir=data, analyze_workers=1))
    return out


def test_first_run_page_passes_axe(fresh_server: str, context_factory: ContextFactory) -> None:
    page = context_factory(bypass_csp=True).new_page()
    page.goto(f"{fresh_server}/setup")
    _check(page, "setup")
