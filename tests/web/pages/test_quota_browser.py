"""Quotas in a real browser (issue 16): the user's usage bar (account page and the drive page),
an administrator setting and clearing a quota on the admin page, and an upload over the quota
refused before any chunk is stored, with the numbers as a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser


def test_admin_sets_a_quota_the_user_sees_it_and_an_upload_over_it_is_refused(
    live: Live, context_factory: ContextFactory, tmp_path: Path
) -> None:
    token = live.user("quinn")
    with live.api(token) as c:
        folder = c.post("/api/drive/mkdir", params={"path": "/q"})
        folder.raise_for_status()
    upload_bytes(live, token, "/q/used.bin", b"u" * 300_000)

    # The user before any quota: usage, no bar (no limit).
    user = context_factory().new_page()
    sign_in(user, live.base, "quinn")
    user.goto(f"{live.base}/account")
    full = user.locator("[data-quota=full]")
    expect(full).to_contain_text("293 KB used (no limit)")
    expect(full.locator("meter")).to_have_count(0)

    # The administrator sets 1 MB.
    admin = context_factory().new_page()
    sign_in(admin, live.base, "admin")
    admin.goto(f"{live.base}/admin")
    row = admin.locator("tr[data-quota-user=quinn]")
    expect(row).to_contain_text("293 KB used (no limit)")
    admin.get_by_label("New quota of quinn").fill("1")
    admin.get_by_label("Unit of the quota of quinn").select_option(label="MB")
    admin.get_by_role("button", name="Set quota of quinn").click()
    expect(admin.get_by_role("status")).to_contain_text("Quota of quinn: 1.0 MB.")
    expect(row).to_contain_text("293 KB of 1.0 MB used (29 %)")
    expect(row.get_by_role("meter", name="Storage used by quinn")).to_have_attribute(
        "value", "300000"
    )
    with live.api(live.admin_token) as c:
        mine = {q["user"]: q for q in c.get("/api/drive/quotas").json()}
    assert mine["quinn"]["limit"] == 1024 * 1024

    # The user sees the bar and what counts, on the account page and in the drive.
    user.reload()
    expect(full).to_contain_text("293 KB of 1.0 MB used (29 %)")
    expect(full).to_contain_text("Counted: files 293 KB, old versions 0 B.")
    expect(full).to_contain_text("a quota set by an administrator")
    expect(full.get_by_role("meter", name="Storage used")).to_have_attribute("max", "1048576")
    user.goto(f"{live.base}/drive?path=/q")
    expect(user.get_by_role("link", name="used.bin")).to_be_visible()
    expect(user.locator("[data-quota=compact]")).to_contain_text("293 KB of 1.0 MB used")

    # An upload over the quota, through the page: refused with the numbers as a sentence.
    big = tmp_path / "big.bin"
    big.write_bytes(b"b" * 900_000)
    user.locator("#pick-files").set_input_files(big)
    failed = user.locator(".upload[data-state=failed]")
    expect(failed).to_contain_text(
        "Not enough space in your quota: this needs 879 KB, and you use 293 KB of 1.0 MB"
        " (731 KB left)."
    )
    expect(user.get_by_role("status")).to_contain_text("Not enough space in your quota")
    with live.api(token) as c:
        assert c.get("/api/drive/resolve", params={"path": "/q/big.bin"}).status_code == 404
        assert c.get("/api/drive/quota").json()["used"] == 300_000

    # Cleared: back to the default (unlimited here), and the upload goes through.
    admin.get_by_role("button", name="Use default for quinn").click()
    expect(row).to_contain_text("Default (unlimited)")
    failed.get_by_role("button", name="Retry").click()
    expect(user.locator(".upload[data-state=done]")).to_have_count(1, timeout=30_000)
    expect(user.locator("[data-quota=compact]")).to_contain_text("1.1 MB used (no limit)")
