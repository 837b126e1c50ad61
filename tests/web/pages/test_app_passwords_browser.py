"""App passwords in a real browser (issue 17): created on the account page (shown once, with
how to use it), used with HTTP Basic on ``/dav/`` by a real client (httpx PROPFIND), listed with
its last use, revoked from the page (the next WebDAV request gets 401)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in

pytestmark = pytest.mark.browser


def _propfind(live: Live, user: str, secret: str) -> int:
    r = httpx.request(
        "PROPFIND", f"{live.base}/dav/", auth=(user, secret), headers={"Depth": "0"}, timeout=30
    )
    return r.status_code


def test_app_password_created_used_on_dav_and_revoked(
    live: Live, context_factory: ContextFactory
) -> None:
    live.user("pat")
    page = context_factory().new_page()
    sign_in(page, live.base, "pat")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_text("No app passwords yet.")).to_be_visible()

    page.get_by_label("Device name").fill("laptop rclone")
    page.get_by_role("button", name="Create app password").click()
    secret_field = page.get_by_label("New app password “laptop rclone” (shown only now)")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert len(secret) >= 16
    how = page.locator("#app-password-how")
    expect(how).to_contain_text("file manager or rclone")
    expect(how).to_contain_text("user name pat")
    expect(how).to_contain_text(f"{live.base}/dav/")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    row = page.locator("#app-passwords tr", has_text="laptop rclone")
    expect(row).to_contain_text("Never")

    # A real client with Basic auth: the app password opens the drive; the account's real
    # password is not what is asked for here, and a wrong secret is refused.
    assert _propfind(live, "pat", secret) == 207
    assert _propfind(live, "pat", secret[:-1] + ("x" if secret[-1] != "x" else "y")) == 401

    # Listed with its last use; the secret is not shown again after a reload.
    page.reload()
    expect(row).not_to_contain_text("Never")
    expect(page.get_by_label("New app password “laptop rclone” (shown only now)")).to_have_count(0)
    assert secret not in page.content()

    page.get_by_role("button", name="Revoke laptop rclone").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(row).to_have_count(0)
    assert _propfind(live, "pat", secret) == 401


def test_app_password_errors_are_sentences(live: Live, context_factory: ContextFactory) -> None:
    live.user("pia")
    page = context_factory().new_page()
    sign_in(page, live.base, "pia")
    page.goto(f"{live.base}/account")
    page.get_by_label("Device name").fill("x" * 64)
    page.locator("#ap-name").evaluate("(e) => { e.removeAttribute('maxlength'); e.value += 'yz'; }")
    page.get_by_role("button", name="Create app password").click()
    alert = page.locator("#app-passwords-error")
    expect(alert).to_be_visible()
    assert "{" not in alert.inner_text()
