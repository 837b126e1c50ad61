"""Sharing in a real browser: share with a second user and what that user sees, the public
toggle, a signed link opened in a fresh context, video seeking over Range requests, and a
second user's browser never reaching a private file."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser

CLIP = Path(__file__).parent / "fixtures" / "clip.webm"
README_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"


def test_share_public_link_and_what_the_other_user_sees(
    live: Live, context_factory: ContextFactory
) -> None:
    alice, bob = live.user("alice"), live.user("bob")
    with live.api(alice) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-share"}).raise_for_status()
    report = upload_bytes(live, alice, "/t-share/report.txt", b"quarterly numbers\n")
    secret = upload_bytes(live, alice, "/t-share/secret.txt", b"top secret\n")

    page = context_factory().new_page()
    sign_in(page, live.base, "alice")
    page.goto(f"{live.base}/view/{report['id']}")
    expect(page.locator(".text-preview")).to_have_text("quarterly numbers\n")
    page.get_by_role("button", name="Share").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Share with").fill("bob")
    dialog.get_by_label("Access", exact=True).select_option("read")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("list", name="People with access")).to_contain_text("bob · can view")
    dialog.get_by_label("Share with").fill("nobody-here")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("does not exist")

    dialog.get_by_label("Expires after").select_option("3600")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_label("New link").input_value()
    assert link.startswith(f"{live.base}/api/drive/dl/")
    expect(dialog.get_by_role("list", name="Signed links")).to_contain_text("expires")
    if os.environ.get("CORDVAULT_UPDATE_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(README_SHOTS / "share.png"))

    # The signed link in a fresh context: no account, no cookie.
    anonymous = context_factory().new_page()
    response = anonymous.request.get(link)
    assert response.status == 200
    assert response.body() == b"quarterly numbers\n"

    # Bob sees the share, opens it, and cannot reach Alice's private file.
    bob_page = context_factory().new_page()
    sign_in(bob_page, live.base, "bob")
    bob_page.get_by_role("link", name="Shared with me").click()
    expect(bob_page.get_by_role("link", name="report.txt")).to_be_visible()
    expect(bob_page.get_by_role("link", name="secret.txt")).to_have_count(0)
    bob_page.get_by_role("link", name="report.txt").click()
    expect(bob_page.locator(".text-preview")).to_have_text("quarterly numbers\n")
    bob_page.goto(f"{live.base}/view/{secret['id']}")
    expect(bob_page.get_by_role("alert")).to_contain_text("not shared with you")
    expect(bob_page.locator(".text-preview")).to_have_count(0)
    refused = bob_page.request.get(f"{live.base}/api/drive/files/{secret['id']}/content")
    assert refused.status == 403
    assert b"top secret" not in refused.body()

    # Public toggle: now every account may read it.
    page.get_by_role("button", name="Close").click()
    page.goto(f"{live.base}/view/{secret['id']}")
    page.get_by_role("button", name="Share").click()
    page.get_by_role("dialog").get_by_label("Every account of this cordvault can open it").check()
    expect(page.get_by_role("status")).to_contain_text("Every account can now open this file")
    allowed = bob_page.request.get(f"{live.base}/api/drive/files/{secret['id']}/content")
    assert allowed.status == 200
    assert allowed.body() == b"top secret\n"

    # Revoking the link ends it.
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.goto(f"{live.base}/view/{report['id']}")
    page.get_by_role("button", name="Share").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("dialog").get_by_role("list", name="Signed links")).to_contain_text(
        "No links."
    )
    assert httpx.get(link).status_code != 200
    del bob


def test_video_plays_and_seeks_with_range_requests(
    live: Live, context_factory: ContextFactory
) -> None:
    token = live.user("vera")
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": "/t-video"}).raise_for_status()
        r = c.put(
            "/api/drive/upload",
            params={"path": "/t-video/clip.webm"},
            content=CLIP.read_bytes(),
            headers={"content-type": "video/webm"},
        )
        r.raise_for_status()
        clip = r.json()["file"]
    page = context_factory().new_page()
    sign_in(page, live.base, "vera")
    ranges: list[str] = []
    page.on(
        "request",
        lambda r: ranges.append(r.headers.get("range", "")) if "/content" in r.url else None,
    )
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/content" in r.url else None)
    page.goto(f"{live.base}/view/{clip['id']}")
    video = page.locator("video")
    expect(video).to_be_visible()
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    duration = page.evaluate("() => document.querySelector('video').duration")
    assert 5 < duration < 7
    page.evaluate("() => { document.querySelector('video').currentTime = 4.2; }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return !v.seeking && v.readyState >= 2; }"
    )
    assert page.evaluate("() => document.querySelector('video').currentTime") == pytest.approx(
        4.2, abs=0.3
    )
    assert any(r.startswith("bytes=") for r in ranges), ranges
    assert 206 in statuses
