"""Sessions and sign-in security in a real browser: a user signs out one of their other
sessions from the account page (and sees their security log); an administrator clears an
account's sign-in delays, sees the whole security log and signs an account out everywhere."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from tests.web.pages.conftest import PASSWORD, ContextFactory, Live, sign_in

pytestmark = pytest.mark.browser


def test_a_user_signs_out_another_of_their_sessions(
    live: Live, context_factory: ContextFactory
) -> None:
    live.user("dave")
    page = context_factory().new_page()
    sign_in(page, live.base, "dave")
    other = context_factory().new_page()  # a second browser, same account
    sign_in(other, live.base, "dave")

    page.goto(f"{live.base}/account")
    sessions = page.locator("#sessions tr")
    # Both browsers, plus the API token live.user made; this one is marked.
    expect(sessions).to_have_count(3)
    expect(page.locator("#sessions tr[data-current=true]")).to_contain_text("This session")
    # Newest first: the second browser's session is row 1 (this one is row 2).
    expect(sessions.nth(1)).to_contain_text("This session")
    page.get_by_role("button", name="Sign out session 1,").click()
    expect(page.get_by_role("status")).to_contain_text("Session signed out.")
    expect(sessions).to_have_count(2)
    other.goto(f"{live.base}/drive")
    other.wait_for_url(f"{live.base}/login")
    page.goto(f"{live.base}/drive")  # this one still works
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text("Drive")

    page.goto(f"{live.base}/account")
    expect(page.locator("#security-log")).to_contain_text("session.revoked")
    page.get_by_role("button", name="Sign out every other session").click()
    expect(page.get_by_role("status")).to_contain_text("Every other session was signed out.")
    expect(sessions).to_have_count(1)


def test_an_admin_unlocks_an_account_and_signs_it_out(
    live: Live, context_factory: ContextFactory
) -> None:
    token = live.user("erin")
    login = {"name": "erin", "password": "not the password"}
    codes = [httpx.post(f"{live.base}/api/auth/login", json=login).status_code for _ in range(6)]
    assert codes[-1] == 429, codes
    right = {"name": "erin", "password": PASSWORD}
    assert httpx.post(f"{live.base}/api/auth/login", json=right).status_code == 429

    admin = context_factory().new_page()
    sign_in(admin, live.base, "admin")
    admin.get_by_role("link", name="Users").click()
    expect(admin.locator("#security-log")).to_contain_text("signin.failure")
    admin.get_by_role("button", name="Unlock sign-in of erin").click()
    expect(admin.get_by_role("status")).to_contain_text("Sign-in delays of erin cleared")
    expect(admin.locator("#security-log")).to_contain_text("signin.unlocked")
    assert httpx.post(f"{live.base}/api/auth/login", json=right).status_code == 200

    admin.get_by_role("button", name="Sign out erin everywhere").click()
    expect(admin.get_by_role("status")).to_contain_text("erin was signed out of")
    r = httpx.get(f"{live.base}/api/auth/me", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401
