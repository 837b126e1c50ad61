"""The file browser in a real browser: a nested folder dropped and picked, rename / move /
delete, multi-select zip download, and an interrupted upload resumed after a reload."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in

pytestmark = pytest.mark.browser

README_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"

# Drop a folder tree the way a browser hands it over: DataTransfer items whose entries follow
# the File and Directory Entries API (a real OS drag cannot be scripted in headless chromium).
DROP_TREE = (Path(__file__).parent / "drop_tree.js").read_text()


def _folder(live: Live, path: str) -> str:
    with live.api(live.admin_token) as c:
        r = c.post("/api/drive/mkdir", params={"path": path})
        r.raise_for_status()
        folder_id: str = r.json()["id"]
        return folder_id


def _content(live: Live, path: str) -> bytes:
    with live.api(live.admin_token) as c:
        found = c.get("/api/drive/resolve", params={"path": path})
        found.raise_for_status()
        r = c.get(f"/api/drive/files/{found.json()['file']['id']}/content")
        r.raise_for_status()
        return r.content


def _exists(live: Live, path: str) -> bool:
    with live.api(live.admin_token) as c:
        return c.get("/api/drive/resolve", params={"path": path}).status_code == 200


def _open(page: Page, live: Live, folder_id: str) -> None:
    page.goto(f"{live.base}/drive?folder={folder_id}")
    expect(page.locator("#count")).to_contain_text("item")


def _uploads_done(page: Page, n: int) -> None:
    expect(page.locator(".upload[data-state=done]")).to_have_count(n, timeout=30_000)
    _settled(page)


def _settled(page: Page) -> None:
    """Wait for the listing refresh that every upload, move, rename or delete schedules: the
    list is aria-busy from then until the new listing is painted (drive.js ``refreshSoon``)."""
    expect(page.locator("#entries")).not_to_have_attribute("aria-busy", "true")


def test_drop_and_pick_folders_then_rename_move_delete_and_zip(
    live: Live, context_factory: ContextFactory, tmp_path: Path
) -> None:
    work = _folder(live, "/t-browse")
    page = context_factory().new_page()
    sign_in(page, live.base, "admin")
    _open(page, live, work)
    expect(page.get_by_text("This folder is empty")).to_be_visible()

    page.evaluate(DROP_TREE)
    _uploads_done(page, 4)
    assert _content(live, "/t-browse/album/inner/deep/c.txt") == b"charlie"
    assert _content(live, "/t-browse/album/a.txt") == b"alpha"
    assert _content(live, "/t-browse/loose.txt") == b"loose"

    # A real folder through the folder picker (webkitdirectory), nested.
    local = tmp_path / "photos"
    (local / "2024" / "june").mkdir(parents=True)
    (local / "2024" / "june" / "beach.txt").write_text("sand")
    (local / "top.txt").write_text("top")
    loose = page.locator("li.entry", has_text="loose.txt").element_handle()
    page.locator("#pick-folder").set_input_files(local)
    _uploads_done(page, 6)
    assert _content(live, "/t-browse/photos/2024/june/beach.txt") == b"sand"
    entries = page.locator("#entries")
    expect(entries.get_by_role("link", name="photos", exact=True)).to_be_visible()
    # The refreshes after each upload kept the rows that did not change (not rebuilt: a row
    # being clicked or dragged is never detached under the user).
    assert loose.evaluate("(li) => li.isConnected")

    # Rename through the row menu.
    page.get_by_label("Actions for loose.txt").click()
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New name").fill("renamed.txt")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(entries.get_by_role("link", name="renamed.txt")).to_be_visible()
    _settled(page)
    assert _exists(live, "/t-browse/renamed.txt")

    # Move through the dialog: into photos/2024.
    page.get_by_label("Actions for renamed.txt").click()
    page.get_by_role("button", name="Move").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="photos").click()
    dialog.get_by_role("button", name="2024").click()
    expect(dialog).to_contain_text("Destination: /t-browse/photos/2024")
    dialog.get_by_role("button", name="Move here").click()
    expect(entries.get_by_role("link", name="renamed.txt")).to_have_count(0)
    _settled(page)
    assert _exists(live, "/t-browse/photos/2024/renamed.txt")

    # Move by dragging a row onto a folder.
    page.get_by_role("link", name="album", exact=True).click()
    expect(page.locator("#crumbs")).to_contain_text("album")
    expect(page.locator("li.entry", has_text="inner")).to_be_visible()
    page.locator("li.entry", has_text="a.txt").drag_to(page.locator("li.entry", has_text="inner"))
    expect(page.locator("li.entry", has_text="a.txt")).to_have_count(0)
    _settled(page)
    assert _exists(live, "/t-browse/album/inner/a.txt")
    page.get_by_role("link", name="t-browse").click()
    expect(entries.get_by_role("link", name="photos", exact=True)).to_be_visible()

    # Multi-select: zip download of a folder and a file.
    upload_name = "zip-me.txt"
    with live.api(live.admin_token) as c:
        c.put("/api/drive/upload", params={"path": f"/t-browse/{upload_name}"}, content=b"zipped")
    page.reload()
    page.get_by_label("Select album").check()
    page.get_by_label(f"Select {upload_name}").check()
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download as zip").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    names = set(archive.namelist())
    assert {"album/inner/deep/c.txt", "album/inner/a.txt", upload_name} <= names
    assert archive.read("album/inner/b.txt") == b"bravo"

    if os.environ.get("CORDVAULT_UPDATE_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(README_SHOTS / "drive.png"))

    # Delete the selection, after confirming.
    page.get_by_role("button", name="Delete", exact=True).first.click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("moved to the trash")
    confirm.get_by_role("button", name="Delete").click()
    expect(entries.get_by_role("link", name="album", exact=True)).to_have_count(0)
    assert not _exists(live, "/t-browse/album")
    assert not _exists(live, f"/t-browse/{upload_name}")


def test_interrupted_upload_resumes_after_reload(
    live: Live, context_factory: ContextFactory, tmp_path: Path
) -> None:
    work = _folder(live, "/t-resume")
    chunk = 64 * 1024
    data = os.urandom(20 * chunk + 123)  # 21 chunks
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    page = context_factory().new_page()
    sign_in(page, live.base, "admin")
    _open(page, live, work)

    stored: list[str] = []
    attempts: dict[str, int] = {}

    def first_run(route: Route) -> None:
        index = route.request.url.rsplit("/", 1)[1]
        attempts[index] = attempts.get(index, 0) + 1
        if index == "1" and attempts[index] == 1:
            route.abort("connectionreset")  # a dropped connection: retried with backoff
        elif len(stored) >= 6:
            route.abort("connectionrefused")  # the network is gone from here on
        else:
            route.continue_()
            stored.append(index)

    page.route(re.compile(r".*/api/drive/uploads/[^/]+/chunks/\d+$"), first_run)
    page.locator("#pick-files").set_input_files(local)
    page.wait_for_function(
        "() => document.querySelector('.upload-state')?.textContent.includes('retrying')"
    )
    deadline_ok = page.locator(".upload-state", has_text=re.compile("retrying|Sending"))
    expect(deadline_ok).to_be_visible()
    assert attempts.get("1", 0) >= 1
    page.wait_for_timeout(800)
    page.unroute(re.compile(r".*/api/drive/uploads/[^/]+/chunks/\d+$"))
    assert not _exists(live, "/t-resume/big.bin")

    # Reload: the page remembers the unfinished upload; re-selecting the file resumes it.
    page.reload()
    expect(page.locator("#resume-hint")).to_contain_text("big.bin")
    sent_after: list[str] = []
    page.on(
        "request",
        lambda r: (
            sent_after.append(r.url.rsplit("/", 1)[1])
            if r.method == "PUT" and "/chunks/" in r.url
            else None
        ),
    )
    page.locator("#pick-files").set_input_files(local)
    expect(page.locator(".upload-state").first).to_contain_text("Resuming", timeout=15_000)
    _uploads_done(page, 1)
    assert _content(live, "/t-resume/big.bin") == data
    already = set(stored)
    assert already, "some chunks were stored before the interruption"
    assert not already & set(sent_after), "stored chunks were sent again"
    assert len(set(sent_after)) == 21 - len(already)


def test_big_folder_is_virtualised_and_keyboard_filter_select_and_drag_still_work(
    live: Live, context_factory: ContextFactory
) -> None:
    """260 entries (two listing pages): only rows near the viewport are in the DOM, yet the
    keyboard reaches the last entry, filtering and select-all work on the data, and a row
    still drags onto a folder."""
    n = 260
    work = _folder(live, "/t-virtual")
    with live.api(live.admin_token) as c:
        for i in range(n):
            c.post("/api/drive/folders", json={"parent_id": work, "name": f"f-{i:03d}"})
    page = context_factory().new_page()
    sign_in(page, live.base, "admin")
    _open(page, live, work)
    rows = page.locator("#entries li")
    # The first page (200), or both when the next page has already been fetched: a race.
    expect(rows.first).to_have_attribute("aria-setsize", re.compile(r"^(200|260)$"))
    assert rows.count() < 100  # virtualised: far fewer rows in the DOM than entries

    page.get_by_role("link", name="f-000", exact=True).focus()
    page.keyboard.press("End")  # the last loaded row; reaching it loads the next page
    expect(page.locator("#count")).to_have_text(f"{n} items")
    page.keyboard.press("End")
    focused = page.locator("#entries li:has(:focus)")
    expect(focused).to_have_attribute("aria-posinset", str(n))
    expect(focused).to_have_attribute("aria-setsize", str(n))
    expect(page.locator(":focus")).to_have_text(f"f-{n - 1:03d}")
    page.keyboard.press("ArrowUp")
    expect(page.locator(":focus")).to_have_text(f"f-{n - 2:03d}")
    assert rows.count() < 100

    page.locator("#view").click()  # the grid view: tiles, several per row
    page.get_by_role("link", name="f-000", exact=True).focus()
    page.keyboard.press("End")
    expect(page.locator(":focus")).to_have_text(f"f-{n - 1:03d}")
    page.keyboard.press("ArrowLeft")
    expect(page.locator(":focus")).to_have_text(f"f-{n - 2:03d}")
    page.keyboard.press("Home")
    expect(page.locator(":focus")).to_have_text("f-000")
    page.keyboard.press("ArrowRight")
    expect(page.locator(":focus")).to_have_text("f-001")
    assert rows.count() < 250
    page.locator("#view").click()

    page.get_by_label("Filter this folder").fill("f-25")
    expect(rows).to_have_count(10)
    expect(rows.first).to_have_attribute("aria-setsize", "10")
    page.get_by_label("Select all shown").check()
    expect(page.locator("#selection-count")).to_have_text("10 selected")
    page.get_by_role("button", name="Clear selection").click()
    expect(page.locator("#entries .pick:checked")).to_have_count(0)

    page.locator("li.entry", has_text="f-251").drag_to(page.locator("li.entry", has_text="f-250"))
    expect(page.locator("li.entry", has_text="f-251")).to_have_count(0)
    assert _exists(live, "/t-virtual/f-250/f-251")
