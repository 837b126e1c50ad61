"""Accounts in a real browser: first-run administrator, sign in / out, a password change that
ends the other sessions, and an administrator disabling an account mid-session."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import PASSWORD, ContextFactory, Live, sign_in

pytestmark = pytest.mark.browser


def test_first_run_admin_then_sign_out_in_and_change_password(
    fresh_server: str, context_factory: ContextFactory
) -> None:
    base = fresh_server
    page = context_factory().new_page()
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Create the administrator")).to_be_visible()
    page.get_by_label("User name").fill("root-admin")
    page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD + "x")
    page.get_by_role("button", name="Create the administrator").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create the administrator").click()
    page.wait_for_url(f"{base}/drive**")
    expect(page.get_by_role("link", name="Users")).to_be_visible()  # an administrator
    # Setup is closed now (and a signed-in visitor goes on to the drive).
    page.goto(f"{base}/setup")
    page.wait_for_url(f"{base}/drive**")

    page.goto(f"{base}/drive")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/drive")
    page.wait_for_url(f"{base}/login")  # signed out for real
    page.get_by_label("User name").fill("root-admin")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    sign_in(page, base, "root-admin")

    other = context_factory().new_page()  # a second session of the same account
    sign_in(other, base, "root-admin")

    page.get_by_role("link", name="Account").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password (at least 8 characters)").fill("a new passphrase")
    page.get_by_label("Repeat the new password").fill("a new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed. Every other session")).to_be_visible()
    page.goto(f"{base}/drive")
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text("Drive")
    # The other session ended with the password change.
    other.goto(f"{base}/drive")
    other.wait_for_url(f"{base}/login")


def test_admin_disables_a_user_and_their_session_stops(
    live: Live, context_factory: ContextFactory
) -> None:
    admin = context_factory().new_page()
    sign_in(admin, live.base, "admin")
    admin.get_by_role("link", name="Users").click()
    admin.get_by_label("User name").fill("carol")
    admin.get_by_label("Password", exact=True).fill(PASSWORD)
    admin.get_by_role("button", name="Create", exact=True).click()
    row = admin.locator("tr[data-user=carol]")
    expect(row).to_contain_text("Active")

    carol = context_factory().new_page()
    sign_in(carol, live.base, "carol")
    expect(carol.get_by_role("link", name="Users")).to_have_count(0)
    carol.goto(f"{live.base}/admin")
    expect(carol.get_by_role("alert")).to_contain_text("Only administrators")
    carol.goto(f"{live.base}/drive")

    admin.get_by_role("button", name="Disable carol").click()
    expect(row).to_contain_text("Disabled")
    # Carol's next action fails and sends her to the sign-in page.
    carol.get_by_role("button", name="New folder").click()
    carol.get_by_label("Folder name").fill("after-disable")
    carol.get_by_role("button", name="Create").click()
    expect(carol.get_by_role("status")).to_contain_text(re.compile("session has ended"))
    carol.wait_for_url(f"{live.base}/login")
    carol.get_by_label("User name").fill("carol")
    carol.get_by_label("Password").fill(PASSWORD)
    carol.get_by_role("button", name="Sign in").click()
    expect(carol.get_by_role("alert")).to_have_text("Wrong user name or password.")

    admin.get_by_role("button", name="Enable carol").click()
    expect(row).to_contain_text("Active")
    admin.get_by_role("button", name="Promote carol").click()
    expect(row).to_contain_text("Administrator")
