"""The insights flow page (/insights) in a real browser against the real app (in-process job
queue, a local package server on the whitelist): a package sent by link (signed in: job news
over the live socket) and by upload (anonymous: /status polling), decrypted in the page and kept
in IndexedDB; the cached result comes back without a new download; forget and delete work;
every documented refusal reads as a sentence; a wrong key shows only an error. Every request
the page makes is recorded to prove the key goes nowhere but our own routes' bearer header and
the decrypted database goes nowhere at all."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Request, WebSocket, expect
from tests.support.insights_server import PackageServer, new_upn, package_handler
from tests.web.pages.conftest import PASSWORD, ContextFactory, _Server, page_settings
from tests.web.pages.test_accessibility_browser import _check as check_axe

from cordvault.insights.blob import write_container
from cordvault.insights.generator import Expected, GenOptions, generate_package
from cordvault.insights.jobs.package_links import package_id_for
from cordvault.insights.pipeline import produce_blob

pytestmark = pytest.mark.browser


@dataclass
class InsightsLive:
    base: str
    packages: PackageServer
    expected: Expected
    zip_path: Path
    users: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def insights_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InsightsLive]:
    tmp = tmp_path_factory.mktemp("insights-pages")
    zip_path = tmp / "package.zip"
    expected = generate_package(
        zip_path, GenOptions(variant="modern", seed=3, messages=300, events=600)
    )
    state = PackageServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), package_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.files["package.zip"] = zip_path
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    data = tmp / "data"
    data.mkdir(mode=0o700)
    settings = page_settings(data).model_copy(
        update={"dl_zip_whitelisted_domains": state.base + "/", "analyze_workers": 1}
    )
    try:
        with _Server(settings) as base:
            r = httpx.post(
                f"{base}/api/auth/register", json={"name": "admin", "password": PASSWORD}
            )
            r.raise_for_status()
            yield InsightsLive(base, state, expected, zip_path)
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Traffic:
    """Every request and WebSocket frame a page sent (to prove where the key goes)."""

    requests: list[Request] = field(default_factory=list)
    frames: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", lambda r: self.requests.append(r))

        def on_socket(ws: WebSocket) -> None:
            ws.on("framesent", lambda payload: self.frames.append((ws.url, str(payload))))

        page.on("websocket", on_socket)

    def paths(self, method: str, fragment: str) -> list[str]:
        return [r.url for r in self.requests if r.method == method and fragment in r.url]


# Keeps the steps #job shows across the navigation to the dashboard (sessionStorage of the test
# page, written by a MutationObserver: not part of the page under test).
STEP_RECORDER = """() => {
    const job = document.getElementById('job');
    new MutationObserver(() => sessionStorage.setItem('steps', job.dataset.steps || ''))
        .observe(job, { attributes: true, attributeFilter: ['data-steps'] });
}"""


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/drive**")


def saved_database(page: Page, result_id: str) -> bytes:
    """The SQLite bytes the page saved in IndexedDB (through store.js, as the dashboard reads)."""
    b64: str = page.evaluate(
        """async (id) => {
            const store = await import('/static/js/insights/store.js');
            const rec = await store.loadResult(id);
            if (!rec) return '';
            const u8 = new Uint8Array(rec.bytes);
            let s = '';
            for (let i = 0; i < u8.length; i += 0x8000) {
                s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
            }
            return btoa(s);
        }""",
        result_id,
    )
    return base64.b64decode(b64)


def assert_matches_expected(db_bytes: bytes, expected: Expected, tmp: Path) -> None:
    """The decrypted database holds what the generator says the package implies."""
    assert db_bytes.startswith(b"SQLite format 3\0")
    path = tmp / "result.sqlite"
    path.write_bytes(db_bytes)
    with sqlite3.connect(path) as db:
        total = db.execute(
            "SELECT SUM(occurence_count) FROM activity WHERE event_name = 'message_sent'"
        ).fetchone()[0]
        assert total == expected.meta["messages_total"]
        for table in ("dm_channels_data", "guild_channels_data", "guilds", "payments"):
            (count,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert count == len(expected.tables[table]), table


def assert_headline(page: Page, expected: Expected) -> None:
    """The dashboard's headline numbers are the generator's expected values."""
    tables = expected.tables
    headline = page.locator("#headline")
    expect(headline.locator("dd[data-key=messages]")).to_have_text(
        f"{expected.meta['messages_total']:,}", timeout=30_000
    )
    top_guild = max(tables["guilds"], key=lambda row: int(row[2]))
    expect(headline.locator("dd[data-key=top-guild]")).to_contain_text(str(top_guild[1]))
    expect(headline.locator("dd[data-key=sessions]")).to_contain_text(
        f"{len(tables['sessions']):,}"
    )
    minutes = sum(int(row[2]) for row in tables["voice_sessions"])
    expect(headline.locator("dd[data-key=voice]")).to_contain_text(f"{minutes:,} minutes")


def assert_key_stays_home(traffic: Traffic, base: str, upn: str, link: str | None) -> None:
    """The key only in Authorization headers to our origin (plus the link in POST /process and
    the live socket's subscribe packet, both to our origin); no decrypted database sent."""
    assert traffic.requests
    for r in traffic.requests:
        assert r.url.startswith(base + "/"), f"request to another origin: {r.url}"
        assert upn not in r.url
        for name, value in r.all_headers().items():
            if upn in value:
                assert name.lower() == "authorization", name
                assert value == f"Bearer {upn}"
        body = r.post_data_buffer or b""
        assert b"SQLite format 3" not in body, f"database sent to {r.url}"
        if upn.encode() in body:
            assert link is not None
            assert (r.method, r.url) == ("POST", f"{base}/process")
            assert body == json.dumps({"package_link": link}, separators=(",", ":")).encode()
    for url, payload in traffic.frames:
        assert url.startswith(base.replace("http", "ws", 1) + "/api/ws")
        if upn in payload:
            assert '"c2s:insights-subscribe"' in payload


def test_link_live_steps_decrypt_cache_forget_delete(
    insights_live: InsightsLive, context_factory: ContextFactory, tmp_path: Path
) -> None:
    base = insights_live.base
    upn = new_upn()
    package_id = package_id_for(upn)
    # The first GET trickles for a couple of seconds: the DOWNLOADING step is visible.
    link = insights_live.packages.link("package.zip", upn, route="slow-once")
    page = context_factory().new_page()
    traffic = Traffic()
    traffic.attach(page)
    sign_in(page, base)
    page.goto(f"{base}/insights")
    page.get_by_label("Remember on this device").check()
    page.get_by_label("Package link").fill(link)
    page.get_by_role("button", name="Analyse from the link").click()
    page.evaluate(STEP_RECORDER)
    step = page.locator("#job-step")
    expect(step).to_have_text("Downloading the package", timeout=20_000)
    expect(page.locator("#job-meaning")).to_contain_text("fetches your package")
    expect(page.get_by_label("Package link")).to_have_value("")
    page.wait_for_url(f"{base}/insights/dashboard#{package_id}", timeout=60_000)
    steps = page.evaluate("() => sessionStorage.getItem('steps')").split()
    # Every step, in order (the first answer may already be past LOCKED).
    assert [s for s in steps if s != "LOCKED"] == ["DOWNLOADING", "ANALYZING", "PROCESSED"], steps
    # Pushed by the live socket: the page never polled.
    assert not traffic.paths("GET", "/status"), "the signed-in page polled instead of listening"
    assert len(traffic.paths("GET", f"/process/{package_id}/blob")) == 1
    assert_matches_expected(saved_database(page, package_id), insights_live.expected, tmp_path)
    assert_headline(page, insights_live.expected)

    # Reload: the result is on this device, listed and opened without a new download.
    before = len(traffic.requests)
    page.goto(f"{base}/insights")
    row = page.locator(f"li[data-result='{package_id}']")
    expect(row).to_be_visible()
    row.get_by_role("link", name="Open the dashboard").click()
    page.wait_for_url(f"{base}/insights/dashboard#{package_id}")
    page.wait_for_load_state("networkidle")
    later = traffic.requests[before:]
    downloads = [r.url for r in later if "/process/" in r.url or "/blobs/" in r.url]
    assert not downloads, "a cached result was downloaded again"
    assert_key_stays_home(traffic, base, upn, link)

    # Delete from the server (the key is remembered), then forget on this device.
    page.goto(f"{base}/insights")
    row.get_by_role("button", name="Delete from the server").click()
    expect(page.get_by_role("status")).to_have_text("Deleted from the server.")
    status = httpx.get(
        f"{base}/process/{package_id}/status", headers={"authorization": f"Bearer {upn}"}
    ).json()
    assert status["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    row.get_by_role("button", name="Forget on this device").click()
    expect(page.get_by_role("status")).to_have_text("Forgotten on this device.")
    expect(row).to_have_count(0)
    expect(page.locator("#saved-empty")).to_be_visible()
    assert saved_database(page, package_id) == b""
    remembered = page.evaluate(
        """async (id) => (await import('/static/js/insights/keys.js')).keyFor(id)""", package_id
    )
    assert remembered is None


def test_upload_polls_and_keeps_the_key_in_the_tab(
    insights_live: InsightsLive, context_factory: ContextFactory, tmp_path: Path
) -> None:
    base = insights_live.base
    page = context_factory().new_page()  # not signed in: /status every second
    traffic = Traffic()
    traffic.attach(page)
    page.goto(f"{base}/insights")
    page.locator("#zip").set_input_files(str(insights_live.zip_path))
    expect(page.locator("#zip-name")).to_contain_text("package.zip")
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_url(f"{base}/insights/dashboard#*", timeout=60_000)
    uploads = [r for r in traffic.requests if r.url == f"{base}/process/upload"]
    assert len(uploads) == 1
    upn = uploads[0].headers["authorization"].removeprefix("Bearer ")
    # A made-up UPN with the real rules: 600 characters of [A-Za-z0-9-._].
    assert len(upn) == 600
    assert set(upn) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
    package_id = package_id_for(upn)
    assert page.url.endswith(f"#{package_id}")
    polls = traffic.paths("GET", f"/process/{package_id}/status")
    assert polls, "the anonymous page did not poll"
    assert_matches_expected(saved_database(page, package_id), insights_live.expected, tmp_path)
    assert_key_stays_home(traffic, base, upn, None)
    # Not remembered: the key lived in the tab only (IndexedDB has no key record).
    stored = page.evaluate(
        """() => new Promise((resolve) => {
            const req = indexedDB.open('cordvault-insights-keys', 1);
            req.onsuccess = () => {
                const all = req.result.transaction('keys').objectStore('keys').getAll();
                all.onsuccess = () => resolve(all.result.length);
            };
        })"""
    )
    assert stored == 0


def test_refusals_read_as_sentences(
    insights_live: InsightsLive, context_factory: ContextFactory, tmp_path: Path
) -> None:
    base = insights_live.base
    page = context_factory().new_page()
    page.goto(f"{base}/insights")
    link_error = page.locator("#link-error")
    send = page.get_by_role("button", name="Analyse from the link")
    # Checked before sending: not a link, not Discord's, a cut-off UPN.
    for text, words in (
        ("hello", "not a link"),
        ("https://example.org/ls/click?upn=" + "a" * 600, "not a Discord package link"),
        ("https://click.discord.com/ls/click?upn=" + "a" * 100, "cut off"),
    ):
        page.get_by_label("Package link").fill(text)
        send.click()
        expect(link_error).to_contain_text(words)
    # Refused by the server later: the link has expired (HEAD answers 403).
    page.get_by_label("Package link").fill(f"{insights_live.packages.base}/expired?upn={new_upn()}")
    send.click()
    expect(page.locator("#job-error")).to_have_text(
        "This link has expired. Download the zip with the button in Discord's email and upload"
        " it here instead.",
        timeout=30_000,
    )
    expect(page.locator("#job-step")).to_have_text("Stopped")
    # Uploads: not a zip (caught here), a damaged zip (refused by the server).
    zip_error = page.locator("#zip-error")
    text_file = tmp_path / "notes.zip"
    text_file.write_bytes(b"just some text, not a zip")
    page.locator("#zip").set_input_files(str(text_file))
    page.get_by_role("button", name="Upload and analyse").click()
    expect(zip_error).to_have_text(
        "This file is not a zip. Choose the package.zip file Discord sent you."
    )
    broken = tmp_path / "broken.zip"
    broken.write_bytes(insights_live.zip_path.read_bytes()[:5000])
    page.locator("#zip").set_input_files(str(broken))
    page.get_by_role("button", name="Upload and analyse").click()
    expect(zip_error).to_contain_text("This zip is damaged or incomplete")


def test_a_wrong_key_shows_an_error_and_nothing_else(
    insights_live: InsightsLive, context_factory: ContextFactory
) -> None:
    base = insights_live.base
    upn = new_upn()
    link = insights_live.packages.link("package.zip", upn)
    r = httpx.post(f"{base}/process", json={"package_link": link})
    package_id = r.json()["packageId"]
    page = context_factory().new_page()
    traffic = Traffic()
    traffic.attach(page)
    page.goto(f"{base}/insights")
    # This device remembers the package with a damaged key.
    page.evaluate(
        """async ([id, key]) => (await import('/static/js/insights/keys.js'))
            .keepKey({packageId: id, upn: key, label: 'old package'}, true)""",
        [package_id, new_upn()],
    )
    page.reload()
    row = page.locator(f"li[data-package='{package_id}']")
    row.get_by_role("button", name="Check its analysis").click()
    expect(page.locator("#job-error")).to_have_text("This key does not match this package.")
    expect(page.locator("#job-step")).to_have_text("Stopped")
    expect(page.locator("#job-open")).to_be_hidden()
    page.wait_for_timeout(1500)  # no retry loop, no download behind the error
    assert len(traffic.paths("GET", "/status")) == 1
    assert not traffic.paths("GET", f"/process/{package_id}/blob")


@pytest.fixture(scope="module")
def blob_file(
    insights_live: InsightsLive, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A .cvblob of the module's package (what ``cordvault analyze --blob`` writes) and its key."""
    tmp = tmp_path_factory.mktemp("cvblob")
    upn = new_upn()
    settings = page_settings(tmp).model_copy(update={"analyze_workers": 1})
    produced = produce_blob(
        insights_live.zip_path,
        tmp,
        tmp / "db.ct",
        upn,
        settings=settings,
        package_id=package_id_for(upn),
    )
    out = tmp / "result.cvblob"
    write_container(produced.meta, produced.ciphertext, out)
    return out, upn


def test_the_dashboard_opens_a_blob_file_with_its_key_only(
    insights_live: InsightsLive, blob_file: tuple[Path, str], context_factory: ContextFactory
) -> None:
    path, upn = blob_file
    page = context_factory().new_page()
    traffic = Traffic()
    traffic.attach(page)
    page.goto(f"{insights_live.base}/insights/dashboard")
    page.wait_for_load_state("networkidle")
    before = len(traffic.requests)
    page.locator("#file").set_input_files(str(path))
    key = page.get_by_label("Key (the package link, or its upn value)")
    key.fill(new_upn())
    page.get_by_role("button", name="Decrypt and open").click()
    expect(page.locator("#load-error")).to_have_text("This key does not open this result.")
    expect(page.locator("#dashboard")).to_be_hidden()
    # The whole link works as well as its upn value.
    key.fill(f"https://click.discord.com/ls/click?upn={upn}")
    page.get_by_role("button", name="Decrypt and open").click()
    expect(page.locator("#blob-key")).to_be_hidden()
    expect(page.locator("#load-error")).to_be_hidden()
    assert_headline(page, insights_live.expected)
    sent = [
        r.url
        for r in traffic.requests[before:]
        if not r.url.startswith(insights_live.base + "/static/")
    ]
    assert not sent, f"the page sent requests while decrypting a local file: {sent}"


def test_analyze_open_serves_the_dashboard_on_loopback(
    insights_live: InsightsLive, context_factory: ContextFactory, tmp_path: Path
) -> None:
    """``cordvault analyze PKG.zip --open``: the dashboard of that one result on 127.0.0.1, the
    browser opened on a one-time path (``BROWSER`` records the URL instead of a real browser)."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "cordvault", "analyze", str(insights_live.zip_path)]
    options = ["-o", str(tmp_path / "r.sqlite"), "--no-report", "--workers", "1", "--open"]
    cli = subprocess.Popen([*command, *options], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not opened.exists() or not opened.read_text().strip():
            assert cli.poll() is None, "the command ended before opening the browser"
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.1)
        url = opened.read_text().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[\w-]{20,}", url), url
        page = context_factory().new_page()
        traffic = Traffic()
        traffic.attach(page)
        page.goto(url)
        page.wait_for_url(re.compile(r".*/insights/dashboard#local-.*"))
        assert_headline(page, insights_live.expected)
        origin = url.split("/r/", 1)[0]
        headers = httpx.get(f"{origin}/insights/dashboard").headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert all(r.url.startswith(origin + "/") for r in traffic.requests)
        # The file's path works once; the page's reload reads the browser's copy.
        assert httpx.get(f"{url}/result.sqlite").status_code == 410
        page.reload()
        assert_headline(page, insights_live.expected)
    finally:
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"color_scheme": "light"}, id="light"),
        pytest.param(
            {"color_scheme": "dark", "viewport": {"width": 360, "height": 740}}, id="dark-phone"
        ),
    ],
)
def test_the_insights_page_with_a_job_and_a_saved_entry_passes_axe(
    insights_live: InsightsLive, context_factory: ContextFactory, options: dict[str, object]
) -> None:
    page = context_factory(bypass_csp=True, **options).new_page()
    page.goto(f"{insights_live.base}/insights")
    page.get_by_text("Where do I find the link?").click()
    page.evaluate(
        """async ([id, key]) => (await import('/static/js/insights/keys.js'))
            .keepKey({packageId: id, upn: key, label: 'a package'}, true)""",
        ["0123456789abcdef0123456789abcdef", new_upn()],
    )
    page.reload()
    page.get_by_role("button", name="Check its analysis").click()
    expect(page.locator("#job-error")).to_be_visible()
    check_axe(page, "/insights with a stopped job and a saved entry")


def test_upload_shows_progress_and_cancels(
    insights_live: InsightsLive, context_factory: ContextFactory
) -> None:
    base = insights_live.base
    page = context_factory().new_page()
    traffic = Traffic()
    traffic.attach(page)
    page.goto(f"{base}/insights")
    # A slow uplink (about 8 s for the package) so the upload can be watched and cancelled.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 15_000},
    )
    page.locator("#zip").set_input_files(str(insights_live.zip_path))
    page.get_by_role("button", name="Upload and analyse").click()
    bar = page.get_by_label("Upload progress")
    expect(bar).to_be_visible()
    expect(page.locator("#upload-text")).to_contain_text(" of ")
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("#zip-error")).to_have_text(
        "Upload cancelled: nothing was kept on the server."
    )
    expect(bar).to_be_hidden()
    expect(page.locator("#job")).to_be_hidden()
    (upload,) = [r for r in traffic.requests if r.url == f"{base}/process/upload"]
    upn = upload.headers["authorization"].removeprefix("Bearer ")
    status = httpx.get(
        f"{base}/process/{package_id_for(upn)}/status", headers={"authorization": f"Bearer {upn}"}
    ).json()
    assert status["errorMessageCode"] == "UNKNOWN_PACKAGE_ID"
    # The button is usable again: the same file can be sent after all.
    expect(page.get_by_role("button", name="Upload and analyse")).to_be_enabled()
