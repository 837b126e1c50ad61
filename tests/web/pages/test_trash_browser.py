"""Trash and versions in a real browser: deleting moves to the trash (with Undo), the trash
page lists, restores (one, several, and a name clash answered "keep both"), deletes forever
and empties; a file overwritten by an upload shows its earlier version, which is downloaded,
restored and deleted from the Versions dialog. What the page did is checked through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser


def _get(live: Live, token: str, path: str, **params: Any) -> Any:
    with live.api(token) as c:
        r = c.get(path, params=params)
        r.raise_for_status()
        return r.json()


def _resolve(live: Live, token: str, path: str) -> dict[str, Any] | None:
    with live.api(token) as c:
        r = c.get("/api/drive/resolve", params={"path": path})
        return r.json() if r.status_code == 200 else None


def _content(live: Live, token: str, file_id: str) -> bytes:
    with live.api(token) as c:
        r = c.get(f"/api/drive/files/{file_id}/content")
        r.raise_for_status()
        return r.content


def _trash_names(live: Live, token: str) -> list[str]:
    return [e["name"] for e in _get(live, token, "/api/drive/trash", limit=1000)["items"]]


def _delete_in_browser(page: Page, name: str) -> None:
    page.get_by_label(f"Actions for {name}").click()
    page.locator("li.entry", has_text=name).get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("moved to the trash")
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator(".undo-bar")).to_contain_text(f"Moved “{name}” to the trash.")
    expect(page.locator("#entries").get_by_role("link", name=name, exact=True)).to_have_count(0)


def test_trash_restore_conflict_delete_forever_and_empty(
    live: Live, context_factory: ContextFactory
) -> None:
    tina = live.user("tina")
    with live.api(tina) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-trash/docs/inner"}).raise_for_status()
    upload_bytes(live, tina, "/t-trash/docs/inner/deep.txt", b"deep")
    upload_bytes(live, tina, "/t-trash/gone.txt", b"gone")
    upload_bytes(live, tina, "/t-trash/clash.txt", b"old clash")
    upload_bytes(live, tina, "/t-trash/one.txt", b"one")
    upload_bytes(live, tina, "/t-trash/two.txt", b"two")

    page = context_factory().new_page()
    sign_in(page, live.base, "tina")
    page.goto(f"{live.base}/drive?path=/t-trash")
    expect(page.get_by_role("link", name="gone.txt")).to_be_visible()

    # Delete, then Undo from the message: the file is back.
    _delete_in_browser(page, "gone.txt")
    assert _resolve(live, tina, "/t-trash/gone.txt") is None
    assert "gone.txt" in _trash_names(live, tina)
    page.locator(".undo-bar").get_by_role("button", name="Undo").click()
    expect(page.locator(".undo-bar")).to_contain_text("Restored gone.txt.")
    expect(page.get_by_role("link", name="gone.txt")).to_be_visible()
    assert _resolve(live, tina, "/t-trash/gone.txt") is not None
    assert "gone.txt" not in _trash_names(live, tina)

    # A file and a folder go to the trash from the browser.
    for name in ("gone.txt", "docs", "clash.txt", "one.txt", "two.txt"):
        _delete_in_browser(page, name)
    assert _resolve(live, tina, "/t-trash/docs/inner/deep.txt") is None
    upload_bytes(live, tina, "/t-trash/clash.txt", b"new clash")  # takes the name meanwhile

    # The trash page, reached from the navigation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trash").click()
    page.wait_for_url(f"{live.base}/trash")
    rows = page.locator("#trash-entries > li")
    expect(rows).to_have_count(5)
    docs_row = rows.filter(has_text="docs")
    expect(docs_row).to_contain_text("Was at /t-trash/docs")
    expect(docs_row).to_contain_text("1 file, 4 B")
    expect(docs_row).to_contain_text("Deleted ")
    expect(docs_row).to_contain_text("Kept until ")  # the purge date: 30 days by default
    expect(page.locator("#trash-rule")).to_contain_text("30 days")

    # Restore the folder (by keyboard): everything below comes back; focus stays on the page.
    page.get_by_role("button", name="Restore docs").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Restored docs.")
    expect(rows).to_have_count(4)
    expect(page.get_by_role("heading", name="Trash")).to_be_focused()
    found = _resolve(live, tina, "/t-trash/docs/inner/deep.txt")
    assert found is not None
    assert _content(live, tina, found["file"]["id"]) == b"deep"

    # Restore with a name clash: keep both.
    page.get_by_role("button", name="Restore clash.txt").click()
    clash = page.get_by_role("dialog")
    expect(clash).to_contain_text("“clash.txt” is already at /t-trash/clash.txt")
    clash.get_by_role("button", name="Keep both").click()
    expect(page.get_by_role("status")).to_contain_text("Restored clash")
    expect(rows).to_have_count(3)
    work = _resolve(live, tina, "/t-trash")
    assert work is not None
    listing = _get(live, tina, f"/api/drive/folders/{work['folder']['id']}")
    clashes = {i["name"]: i["id"] for i in listing["items"] if i["name"].startswith("clash")}
    assert len(clashes) == 2, clashes
    assert _content(live, tina, clashes.pop("clash.txt")) == b"new clash"
    assert _content(live, tina, clashes.popitem()[1]) == b"old clash"

    # Several at once: select two, restore the selection.
    rows.filter(has_text="one.txt").get_by_label("Select one.txt").check()
    rows.filter(has_text="two.txt").get_by_label("Select two.txt").check()
    page.get_by_role("button", name="Restore selected (2)").click()
    expect(page.get_by_role("status")).to_contain_text("Restored 2 items.")
    expect(rows).to_have_count(1)
    assert _resolve(live, tina, "/t-trash/one.txt") is not None
    assert _resolve(live, tina, "/t-trash/two.txt") is not None

    # Delete forever, after confirming.
    page.get_by_role("button", name="Delete forever: gone.txt").click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("cannot be undone")
    confirm.get_by_role("button", name="Delete forever").click()
    expect(page.locator("#trash-empty")).to_be_visible()
    assert _trash_names(live, tina) == []
    assert _resolve(live, tina, "/t-trash/gone.txt") is None

    # Empty the trash.
    page.goto(f"{live.base}/drive?path=/t-trash")
    for name in ("one.txt", "two.txt"):
        _delete_in_browser(page, name)
    page.goto(f"{live.base}/trash")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Empty trash").click()
    confirm = page.get_by_role("dialog")
    expect(confirm).to_contain_text("2 items")
    confirm.get_by_role("button", name="Empty trash").click()
    expect(page.get_by_role("status")).to_contain_text("The trash is empty.")
    expect(page.locator("#trash-empty")).to_be_visible()
    assert _trash_names(live, tina) == []
    assert _get(live, tina, "/api/drive/trash")["total"] == 0


def test_overwrite_by_upload_then_version_download_restore_delete(
    live: Live, context_factory: ContextFactory, tmp_path: Path
) -> None:
    vera = live.user("vera")
    with live.api(vera) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-versions"}).raise_for_status()
    first = upload_bytes(live, vera, "/t-versions/notes.txt", b"first draft\n")
    page = context_factory().new_page()
    sign_in(page, live.base, "vera")
    page.goto(f"{live.base}/drive?path=/t-versions")
    expect(page.get_by_role("link", name="notes.txt")).to_be_visible()

    # Overwrite through the browser's upload: "Replace" on the clash.
    local = tmp_path / "notes.txt"
    local.write_bytes(b"second draft, longer\n")
    page.locator("#pick-files").set_input_files(local)
    page.get_by_role("dialog").get_by_role("button", name="Replace").click()
    expect(page.locator(".upload[data-state=done]")).to_have_count(1, timeout=30_000)
    file_id = str(first["id"])
    assert _content(live, vera, file_id) == b"second draft, longer\n"

    page.get_by_label("Actions for notes.txt").click()
    page.get_by_role("button", name="Versions").click()
    dialog = page.get_by_role("dialog", name="Versions of “notes.txt”")
    versions = dialog.get_by_role("list", name="Earlier versions").locator("li")
    expect(versions).to_have_count(1)
    expect(versions.first).to_contain_text("12 B")
    expect(versions.first).to_contain_text("saved ")
    vid = versions.first.get_attribute("data-version")

    with page.expect_download() as info:
        dialog.get_by_role("link", name="Download version").click()
    assert Path(info.value.path()).read_bytes() == b"first draft\n"

    dialog.get_by_role("button", name="Restore version").click()
    confirm = page.get_by_role("dialog", name="Restore version")
    expect(confirm).to_contain_text("current content is kept as a version")
    confirm.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status")).to_contain_text("Restored version")
    assert _content(live, vera, file_id) == b"first draft\n"
    listed = _get(live, vera, f"/api/drive/files/{file_id}/versions")
    assert [v["size"] for v in listed] == [21]  # the overwritten content became the version
    expect(versions).to_have_count(1)
    expect(versions.first).not_to_have_attribute("data-version", vid or "")

    # Delete the remaining version (the owner may).
    dialog.get_by_role("button", name="Delete version").click()
    page.get_by_role("dialog", name="Delete version").get_by_role("button", name="Delete").click()
    expect(dialog).to_contain_text("No earlier versions")
    assert _get(live, vera, f"/api/drive/files/{file_id}/versions") == []
    dialog.get_by_role("button", name="Close").click()

    # The view page offers the same dialog.
    page.goto(f"{live.base}/view/{file_id}")
    page.get_by_role("button", name="Versions").click()
    expect(page.get_by_role("dialog", name="Versions of “notes.txt”")).to_contain_text(
        "No earlier versions"
    )
