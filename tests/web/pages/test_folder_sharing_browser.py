"""Folder sharing in a real browser (issue 16): the share dialog of a folder (a user with a
picker, list and remove, public toggle, folder links with expiry, copy and revoke), "Shared with
me" listing folders that open in the file browser, and a folder link opened in a fresh context
(no account): a listing page with subfolders, file downloads and a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser


def _tree(live: Live, token: str, top: str) -> dict[str, object]:
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": f"{top}/sub"}).raise_for_status()
    upload_bytes(live, token, f"{top}/sub/deep.txt", b"deep down\n")
    return upload_bytes(live, token, f"{top}/plan.txt", b"the plan\n")


def _open_folder_share(page: Page, live: Live, folder: str) -> None:
    page.goto(f"{live.base}/drive?path=/")
    page.get_by_label(f"Actions for {folder}").click()
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("dialog")).to_contain_text(f"Share the folder “{folder}”")


def test_share_a_folder_with_a_user_who_opens_a_file_inside_then_loses_it(
    live: Live, context_factory: ContextFactory
) -> None:
    alice = live.user("alma")
    live.user("bert")
    carol = live.user("cleo")
    plan = _tree(live, alice, "/proj")

    page = context_factory().new_page()
    sign_in(page, live.base, "alma")
    _open_folder_share(page, live, "proj")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("list", name="People with access")).to_contain_text(
        "Not shared with anyone."
    )
    dialog.get_by_label("Share with").fill("be")
    expect(dialog.locator("datalist option[value=bert]")).to_have_count(1)  # the picker
    dialog.get_by_label("Share with").fill("bert")
    dialog.get_by_label("Access", exact=True).select_option("read")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("list", name="People with access")).to_contain_text("bert · can view")
    dialog.get_by_label("Share with").fill("nobody-here")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("does not exist")

    # Bert finds the folder under "Shared with me", browses into it and opens a file.
    bert = context_factory().new_page()
    sign_in(bert, live.base, "bert")
    bert.get_by_role("link", name="Shared with me").click()
    folders = bert.get_by_role("list", name="Folders")
    expect(folders.get_by_role("link", name="proj")).to_be_visible()
    expect(folders).to_contain_text("can view")
    folders.get_by_role("link", name="proj").click()
    listing = bert.locator("#entries")
    expect(listing.get_by_role("link", name="plan.txt", exact=True)).to_be_visible()
    listing.get_by_role("link", name="sub", exact=True).click()
    expect(listing.get_by_role("link", name="deep.txt", exact=True)).to_be_visible()
    bert.go_back()
    listing.get_by_role("link", name="plan.txt", exact=True).click()
    expect(bert.locator(".text-preview")).to_have_text("the plan\n")
    content = f"{live.base}/api/drive/files/{plan['id']}/content"
    assert bert.request.get(content).status == 200

    # Removed: Bert's next request is refused and the folder leaves his list.
    dialog.get_by_role("button", name="Remove bert").click()
    expect(page.get_by_role("status")).to_contain_text("Stopped sharing with bert.")
    expect(dialog.get_by_role("list", name="People with access")).to_contain_text(
        "Not shared with anyone."
    )
    refused = bert.request.get(content)
    assert refused.status in (403, 404)
    assert b"the plan" not in refused.body()
    bert.goto(f"{live.base}/shared")
    expect(bert.get_by_text("Nobody has shared a folder with you yet.")).to_be_visible()
    bert.goto(f"{live.base}/view/{plan['id']}")
    expect(bert.get_by_role("alert")).to_be_visible()
    expect(bert.locator(".text-preview")).to_have_count(0)

    # Public: every account may read everything below, until it is private again.
    with live.api(carol) as c:
        assert c.get(f"/api/drive/files/{plan['id']}/content").status_code in (403, 404)
    dialog.get_by_label("Every account of this cordvault can open this folder").check()
    expect(page.get_by_role("status")).to_contain_text("Every account can now open this folder")
    with live.api(carol) as c:
        r = c.get(f"/api/drive/files/{plan['id']}/content")
        assert r.status_code == 200
        assert r.content == b"the plan\n"
    dialog.get_by_role("button", name="Close").click()
    expect(
        page.locator("li.entry", has=page.get_by_role("link", name="proj", exact=True))
    ).to_contain_text("public")
    _open_folder_share(page, live, "proj")
    box = page.get_by_role("dialog").get_by_label(
        "Every account of this cordvault can open this folder"
    )
    expect(box).to_be_checked()
    box.uncheck()
    expect(page.get_by_role("status")).to_contain_text("The folder is private again.")
    with live.api(carol) as c:
        assert c.get(f"/api/drive/files/{plan['id']}/content").status_code in (403, 404)


def test_folder_link_in_a_fresh_context_lists_downloads_zips_and_is_revoked(
    live: Live, context_factory: ContextFactory
) -> None:
    owner = live.user("lena")
    _tree(live, owner, "/linked")
    page = context_factory(permissions=["clipboard-read", "clipboard-write"]).new_page()
    sign_in(page, live.base, "lena")
    _open_folder_share(page, live, "linked")
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Expires after").select_option("86400")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_label("New link").input_value()
    assert link.startswith(f"{live.base}/fl/")
    links = dialog.get_by_role("list", name="Folder links")
    expect(links).to_contain_text("expires")
    dialog.get_by_role("button", name="Copy link 1").click()
    expect(page.get_by_role("status")).to_contain_text("Link copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == link

    # A fresh browser, no account: a listing page, not JSON.
    anon = context_factory().new_page()
    anon.goto(link)
    expect(anon.get_by_role("heading", name="linked")).to_be_visible()
    entries = anon.get_by_role("list", name="Files and folders")
    expect(entries.get_by_role("link", name="plan.txt", exact=True)).to_be_visible()
    with anon.expect_download() as info:
        entries.get_by_role("link", name="Download plan.txt").click()
    assert Path(info.value.path()).read_bytes() == b"the plan\n"
    entries.get_by_role("link", name="sub", exact=True).click()
    expect(anon.get_by_role("navigation", name="Breadcrumbs")).to_contain_text("linked")
    expect(entries.get_by_role("link", name="deep.txt", exact=True)).to_be_visible()
    with anon.expect_download() as info:
        anon.get_by_role("link", name="Download this folder as zip").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert [archive.read(n) for n in archive.namelist() if n.endswith("deep.txt")] == [
        b"deep down\n"
    ]
    anon.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="linked").click()
    expect(entries.get_by_role("link", name="plan.txt", exact=True)).to_be_visible()

    # The API's own URL, opened by a browser, leads to the page; scripts get JSON.
    api_url = link.replace("/fl/", "/api/drive/fl/")
    anon.goto(api_url)
    anon.wait_for_url(link)
    assert httpx.get(api_url).json()["total"] == 2

    # Revoked: the page says so in a sentence.
    dialog.get_by_role("button", name="Revoke link 1").click()
    expect(links).to_contain_text("No links.")
    anon.goto(link)
    expect(anon.get_by_role("alert")).to_contain_text("This folder link was revoked.")
    expect(entries.locator("li")).to_have_count(0)
