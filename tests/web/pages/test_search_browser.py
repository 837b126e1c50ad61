"""Search in a real browser: the app shell's search box finds a file in a nested folder and a
file another user shared, shows each result's folder and opens it; another user's private
file shows as a name only (the API lists every live name, as the folder listings do) and its
content stays out of reach; a trashed file is never found; filters and paging work."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser


def test_search_box_results_paths_shared_private_and_paging(
    live: Live, context_factory: ContextFactory
) -> None:
    sam, olga = live.user("sam"), live.user("olga")
    with live.api(sam) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-search/a/b"}).raise_for_status()
        c.post("/api/drive/mkdir", params={"path": "/t-search/a/Needle-dir"}).raise_for_status()
    deep = upload_bytes(live, sam, "/t-search/a/b/report-NEEDLE-deep.txt", b"deep content\n")
    with live.api(olga) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-olga"}).raise_for_status()
    shared = upload_bytes(live, olga, "/t-olga/needle-shared.txt", b"shared content\n")
    private = upload_bytes(live, olga, "/t-olga/needle-private.txt", b"olga's secret\n")
    trashed = upload_bytes(live, olga, "/t-olga/needle-trashed.txt", b"in the trash\n")
    mine_trashed = upload_bytes(live, sam, "/t-search/needle-mine-trashed.txt", b"x")
    with live.api(olga) as c:
        c.put(f"/api/drive/files/{shared['id']}/shares/sam", json={"access": "read"})
        c.delete(f"/api/drive/files/{trashed['id']}").raise_for_status()
    with live.api(sam) as c:
        c.delete(f"/api/drive/files/{mine_trashed['id']}").raise_for_status()

    page = context_factory().new_page()
    sign_in(page, live.base, "sam")
    box = page.get_by_role("search").first.get_by_label("Search the drive")
    box.fill("néedle")  # accents and case do not matter
    box.press("Enter")
    page.wait_for_url(re.compile(r".*/search\?q=n%C3%A9edle$"))
    results = page.get_by_role("list", name="Search results").locator("li")
    expect(page.locator("#search-summary")).to_contain_text("Results 1–4 of 4")
    expect(results).to_have_count(4)
    names = [n.strip() for n in results.locator("a.name").all_inner_texts()]
    assert sorted(names) == sorted(
        ["Needle-dir", "needle-private.txt", "needle-shared.txt", "report-NEEDLE-deep.txt"]
    )
    # Trashed files (Olga's and Sam's own) are never found.
    expect(page.get_by_text("needle-trashed.txt")).to_have_count(0)
    expect(page.get_by_text("needle-mine-trashed.txt")).to_have_count(0)

    deep_row = results.filter(has_text="report-NEEDLE-deep.txt")
    expect(deep_row.locator(".result-path")).to_have_text("in /t-search/a/b")
    shared_row = results.filter(has_text="needle-shared.txt")
    expect(shared_row).to_contain_text("shared · can view")
    expect(shared_row.locator(".result-path")).to_have_text("in /t-olga")
    private_row = results.filter(has_text="needle-private.txt")
    expect(private_row).to_contain_text("private")
    expect(results.filter(has_text="Needle-dir").locator(".result-path")).to_have_text(
        "in /t-search/a"
    )

    # Open the nested file, then its folder from the result's path.
    deep_row.get_by_role("link", name="report-NEEDLE-deep.txt").click()
    page.wait_for_url(f"{live.base}/view/{deep['id']}")
    expect(page.locator(".text-preview")).to_have_text("deep content\n")
    page.go_back()
    deep_row.get_by_role("link", name="/t-search/a/b").click()
    expect(page.locator("#crumbs")).to_contain_text("b")
    expect(page.get_by_role("link", name="report-NEEDLE-deep.txt")).to_be_visible()

    # The shared file opens; the private one shows no content, by page or by fetch.
    page.goto(f"{live.base}/search?q=needle")
    results.get_by_role("link", name="needle-shared.txt").click()
    expect(page.locator(".text-preview")).to_have_text("shared content\n")
    page.go_back()
    results.get_by_role("link", name="needle-private.txt").click()
    expect(page.get_by_role("alert")).to_contain_text("not shared with you")
    expect(page.locator(".text-preview")).to_have_count(0)
    refused = page.request.get(f"{live.base}/api/drive/files/{private['id']}/content")
    assert refused.status == 403
    assert b"secret" not in refused.body()

    # Filters: folders only; the folder result opens the folder.
    page.goto(f"{live.base}/search?q=needle")
    form = page.get_by_role("search", name="Search with filters")
    form.get_by_label("Kind").select_option("folder")
    form.get_by_role("button", name="Search").click()
    expect(page.locator("#search-summary")).to_contain_text("Results 1–1 of 1")
    results.get_by_role("link", name="Needle-dir").click()
    expect(page.locator("#crumbs")).to_contain_text("Needle-dir")
    page.goto(f"{live.base}/search?q=needle&kind=file&min_mb=0.00001")  # at least ~10 bytes
    expect(page.locator("#search-summary")).to_contain_text("Results 1–3 of 3")
    page.goto(f"{live.base}/search?q=nothing-like-this")
    expect(page.locator("#search-summary")).to_contain_text("Nothing you can see")

    # Paging: 55 hits, pages of 50.
    with live.api(sam) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-search/many"}).raise_for_status()
        for i in range(55):
            path = f"/t-search/many/pg-item-{i:02}.txt"
            c.put("/api/drive/upload", params={"path": path}, content=b"p").raise_for_status()
    page.goto(f"{live.base}/search?q=pg-item")
    expect(page.locator("#search-summary")).to_contain_text("Results 1–50 for")
    expect(results).to_have_count(50)
    pager = page.get_by_role("navigation", name="Result pages")
    pager.get_by_role("link", name="Next page").click()
    expect(page.locator("#search-summary")).to_contain_text("Results 51–55 of 55")
    expect(results).to_have_count(5)
    expect(results.first).to_contain_text("pg-item-50.txt")
    expect(page.locator("#search-page-no")).to_have_text("Page 2")
    page.get_by_role("link", name="Previous page").click()
    expect(results).to_have_count(50)
    expect(results.first).to_contain_text("pg-item-00.txt")
