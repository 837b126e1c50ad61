"""Names and avatars of DM users on the insights dashboard, and "how long similar jobs took" on
/insights, in a real browser against the real app.

With a bot token (the Discord emulator plays the API and the CDN): a package sent by link, its
key remembered, opens on the dashboard, whose DM list and drill-down show the users' display
names and avatars looked up through our own origin (the picture shown is the emulator's image:
its colour, as the page decoded it, is the one the emulator drew for that user); a user Discord
does not know keeps the initials; a reload shows the names from this browser's copy without
asking again. Without a bot token the page is told so and asks nothing: initials. The offline
dashboard (``cordvault analyze --open``) is never told it can look users up. Every request
stays on our origin, and the key travels only as the bearer.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from pydantic import SecretStr
from tests.support.insights_server import PackageServer, new_upn, package_handler
from tests.support.live_server import serving
from tests.web.pages.conftest import ContextFactory, page_settings
from tests.web.pages.test_insights_browser import Traffic, assert_key_stays_home

from cordvault.core.metrics import JOB_STEP_BUCKETS
from cordvault.core.settings import Settings
from cordvault.discord.emulator import EmulatorConfig, running_emulator
from cordvault.discord.emulator.avatars import avatar_rgb
from cordvault.discord.emulator.server import EmulatorHandle
from cordvault.insights.analyze import analyze_package
from cordvault.insights.generator import GenOptions, generate_package
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.models import PackageJob
from cordvault.insights.jobs.package_links import package_id_for
from cordvault.insights.output.sqlite_schema import COLUMNS
from cordvault.runtime import Services
from cordvault.web.app import create_app
from cordvault.web.pages.insights_local import local_app

pytestmark = pytest.mark.browser

# Seeded history: every earlier download took 100 s, every earlier job 200 s end to end.
TYPICAL_TEXT = (
    "Similar jobs took about 1 min 40 s in this step and about 3 min 20 s from sending to"
    " result (medians of this server's earlier jobs)."
)


LIFETIME_SHOWN = re.compile("^lifetime:")


@dataclass
class Person:
    name: str
    colour: tuple[int, int, int]  # of the avatar the emulator's CDN serves for them


@dataclass
class PeopleLive:
    base: str
    packages: PackageServer
    emulator: EmulatorHandle
    people: dict[str, Person]  # DM user id -> what Discord says
    unknown: str  # a DM user Discord does not know
    zip_path: Path


def _dm_users(expected_rows: list[list[Any]]) -> list[tuple[str, int]]:
    """(user id, messages) of the package's DMs with a Discord user id, most messages first."""
    cols = COLUMNS["dm_channels_data"]
    uid, count = cols.index("dm_user_id"), cols.index("total_message_count")
    # Some DMs name no user id (a deleted user, an unknown participant): nothing to look up.
    rows = [(str(r[uid]), int(str(r[count]))) for r in expected_rows if str(r[uid]).isdigit()]
    rows = [r for r in rows if r[0] != "0"]
    return sorted(rows, key=lambda r: -r[1])


def _seed_history(services: Services) -> None:
    with services.jobs.sessions.begin() as session:
        for _ in range(9):
            repo.record_step(session, "DOWNLOADING", 100.0, JOB_STEP_BUCKETS)
        start = datetime(2026, 11, 1, tzinfo=UTC)
        for n in range(5):
            queued = start + timedelta(hours=n)
            session.add(
                PackageJob(
                    package_id=f"{n:032x}",
                    state="PROCESSED",
                    is_upgraded=False,
                    source="upload",
                    queued_at=queued,
                    started_at=queued + timedelta(seconds=20),
                    finished_at=queued + timedelta(seconds=200),
                )
            )


@pytest.fixture(scope="module")
def people_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeopleLive]:
    tmp = tmp_path_factory.mktemp("insights-people")
    zip_path = tmp / "package.zip"
    expected = generate_package(
        zip_path, GenOptions(variant="modern", seed=11, messages=300, events=600)
    )
    dms = _dm_users(expected.tables["dm_channels_data"])
    assert len(dms) >= 3, "the generated package needs a few DMs"
    unknown = dms[1][0]  # the second-ranked DM: on the first page, Discord does not know them
    config = EmulatorConfig()
    people: dict[str, Person] = {}
    for i, (user_id, _n) in enumerate(dms):
        if user_id == unknown:
            continue
        avatar = f"{i:032x}" if i % 2 == 0 else None  # every other one has no avatar set
        config.users[user_id] = {
            "username": f"user{i}",
            "global_name": f"Looked Up {i}",
            "avatar": avatar,
            "discriminator": "0",
        }
        seed = f"{user_id}/{avatar}" if avatar else f"embed/{(int(user_id) >> 22) % 6}"
        people[user_id] = Person(f"Looked Up {i}", avatar_rgb(seed))
    state = PackageServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), package_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.files["package.zip"] = zip_path
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    data = tmp / "data"
    data.mkdir(mode=0o700)
    try:
        with running_emulator(config) as emulator:
            settings = page_settings(data).model_copy(
                update={
                    "dl_zip_whitelisted_domains": state.base + "/",
                    "analyze_workers": 1,
                    "discord_api_base": emulator.api_base,
                    "discord_bot_token": SecretStr(emulator.token),
                    "discord_cdn_base": emulator.base_url + "/cdn",
                }
            )
            app = create_app(settings)
            with serving(app) as base:
                _seed_history(app.state.services)
                yield PeopleLive(base, state, emulator, people, unknown, zip_path)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _image_colour(page: Page, selector: str) -> tuple[int, int, int]:
    """The colour of the middle pixel of an <img> as the page decoded it (drawn on a canvas:
    the page's CSP lets it show blob: images, not fetch them)."""
    rgb: list[int] = page.evaluate(
        """async (selector) => {
            const img = document.querySelector(selector);
            await img.decode();
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const half = Math.floor(img.naturalWidth / 2);
            return [...ctx.getImageData(half, half, 1, 1).data.slice(0, 3)];
        }""",
        selector,
    )
    r, g, b = rgb
    return r, g, b


def _check_dm_page(page: Page, live: PeopleLive) -> list[str]:
    """Every DM of the list's first page shows what Discord says (or initials); their ids."""
    entries = page.locator("#lists .ranked").first.locator(".entry-open")
    expect(entries.first).to_be_visible()
    ids: list[str] = []
    for i in range(entries.count()):
        entry = entries.nth(i)
        user_id = entry.locator(".avatar").get_attribute("data-user") or ""
        ids.append(user_id)
        person = live.people.get(user_id)
        if person is None:
            continue
        expect(entry.locator(".name")).to_have_text(person.name)
        expect(entry.locator(".name")).to_have_attribute("data-looked-up", "on")
        expect(entry.locator(".avatar img")).to_have_count(1)
        selector = f'#lists .ranked:first-child .avatar[data-user="{user_id}"] img'
        assert _image_colour(page, selector) == person.colour, user_id
    assert live.unknown in ids
    unknown = entries.locator(f'.avatar[data-user="{live.unknown}"]')
    expect(unknown.locator("img")).to_have_count(0)
    assert unknown.inner_text().strip(), "the unknown user lost their initials"
    return ids


def test_names_avatars_and_typical_durations_with_a_bot_token(
    people_live: PeopleLive, context_factory: ContextFactory
) -> None:
    live = people_live
    base = live.base
    upn = new_upn()
    package_id = package_id_for(upn)
    page = context_factory().new_page()
    traffic = Traffic()
    traffic.attach(page)
    page.goto(f"{base}/insights")
    page.get_by_label("Remember on this device").check()
    link = live.packages.link("package.zip", upn, route="slow-once")
    page.get_by_label("Package link").fill(link)
    page.get_by_role("button", name="Analyse from the link").click()
    # The live step, what it means, and how long similar jobs took on this server.
    expect(page.locator("#job-step")).to_have_text("Downloading the package", timeout=20_000)
    expect(page.locator("#job-typical")).to_have_text(TYPICAL_TEXT)
    page.wait_for_url(f"{base}/insights/dashboard#{package_id}", timeout=60_000)
    expect(page.locator("#dashboard")).to_have_attribute("data-user-lookups", "on")
    shown = _check_dm_page(page, live)
    known = [uid for uid in shown if uid in live.people]
    expect(page.locator("#dashboard")).to_have_attribute("data-people-saved", str(len(known)))
    # Only the users shown were asked for (each once), through our origin, with the key.
    asked = [r.url for r in traffic.requests if "/user/" in r.url]
    users = {u.split("/user/", 1)[1].split("/", 1)[0] for u in asked}
    assert users <= set(shown)
    assert len([u for u in asked if not u.endswith("/avatar")]) == len(users)
    # Avatars are shown from blob: URLs of our own origin (the image bytes stay in the page).
    blobs = [r for r in traffic.requests if r.url.startswith("blob:")]
    assert all(r.url.startswith(f"blob:{base}/") for r in blobs)
    traffic.requests = [r for r in traffic.requests if r not in blobs]
    assert_key_stays_home(traffic, base, upn, link)

    # The drill-down of a known user with an avatar: their name and picture.
    with_avatar = next(
        uid
        for uid in shown
        if uid in live.people and live.emulator.state.config.users[uid]["avatar"]
    )
    entry = page.locator(
        f'#lists .ranked:first-child .entry-open:has(.avatar[data-user="{with_avatar}"])'
    )
    entry.click()
    expect(page.locator("#drill")).to_have_attribute("data-shown", re.compile("^dm:"))
    expect(page.locator("#drill-title")).to_have_text(
        f"Direct messages with {live.people[with_avatar].name}"
    )
    expect(page.locator("#drill-avatar img")).to_have_count(1)
    assert _image_colour(page, "#drill-avatar img") == live.people[with_avatar].colour

    # Reload: the names and avatars come from this browser's copy; only the user Discord did
    # not know is asked for again.
    before = len(traffic.requests)
    page.reload()
    expect(page.locator("#dashboard")).to_have_attribute("data-shown", LIFETIME_SHOWN)
    _check_dm_page(page, live)
    page.wait_for_load_state("networkidle")
    again = [r.url for r in traffic.requests[before:] if "/user/" in r.url]
    assert again == [f"{base}/process/{package_id}/user/{live.unknown}"]


@pytest.fixture(scope="module")
def analysed(people_live: PeopleLive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("people-sqlite")
    out = tmp / "result.sqlite"
    data = tmp / "data"
    data.mkdir(mode=0o700)
    analyze_package(people_live.zip_path, out, settings=Settings(data_dir=data, analyze_workers=1))
    return out


def test_initials_without_a_bot_token(
    analysed: Path, context_factory: ContextFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("no-token") / "data"
    data.mkdir(mode=0o700)
    upn = new_upn()
    package_id = package_id_for(upn)
    with serving(create_app(page_settings(data))) as base:
        page = context_factory().new_page()
        traffic = Traffic()
        traffic.attach(page)
        page.goto(f"{base}/insights/dashboard")
        expect(page.locator("#dashboard")).to_have_attribute("data-user-lookups", "off")
        # This device has the result and remembers its key: still nothing to ask.
        page.evaluate(
            """async ([id, key, b64]) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                await (await import('/static/js/insights/store.js'))
                    .saveResult({ id, packageId: id, label: 'a package', bytes });
                await (await import('/static/js/insights/keys.js'))
                    .keepKey({ packageId: id, upn: key, label: 'a package' }, true);
            }""",
            [package_id, upn, base64.b64encode(analysed.read_bytes()).decode()],
        )
        page.goto(f"{base}/insights/dashboard#{package_id}")
        expect(page.locator("#dashboard")).to_have_attribute("data-shown", LIFETIME_SHOWN)
        entries = page.locator("#lists .ranked").first.locator(".entry-open")
        expect(entries.first).to_be_visible()
        page.wait_for_load_state("networkidle")
        expect(entries.locator(".avatar img")).to_have_count(0)
        expect(entries.locator(".name[data-looked-up]")).to_have_count(0)
        first = entries.first.locator(".avatar").inner_text().strip()
        assert first, "no initials"
        assert len(first) <= 2, first
        assert not [r.url for r in traffic.requests if "/user/" in r.url]


def test_the_offline_dashboard_is_never_told_to_look_users_up(tmp_path: Path) -> None:
    sqlite = tmp_path / "r.sqlite"
    sqlite.write_bytes(b"SQLite format 3\0")
    with TestClient(local_app(sqlite, "r", "token-for-the-test")) as client:
        html = client.get("/insights/dashboard").text
    assert 'data-user-lookups="off"' in html
