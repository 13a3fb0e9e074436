"""A person in Chromium: register (through the mailed link), log out, log in, and sign out another device."""
from __future__ import annotations

from tests.helpers import screenshot, sign_up_in_browser, submit_login


def test_register_logout_login_and_revoke_other_session(live_server, browser, page, mailbox):
    base, email, password = live_server.url, "ada@example.com", "analytical engine"
    console_errors = []
    page.on("console", lambda message: message.type == "error" and "422" not in message.text
            and console_errors.append(message.text))  # a 422 form re-render is expected, anything else is not

    page.goto(f"{base}/register")
    page.fill("#email", email)
    page.fill("#password", "short")
    page.fill("#confirm", "short")
    page.click("button[type=submit]")
    assert page.locator(".errors").first.inner_text() == "Use at least 10 characters."
    assert page.input_value("#email") == email
    screenshot(page, "accounts-register-error")

    sign_up_in_browser(page, base, mailbox, email, password, first_name="Ada")
    page.wait_for_selector("text=Welcome, Ada")
    screenshot(page, "accounts-home")

    page.click("text=Log out")
    page.wait_for_selector("text=You are logged out.")
    submit_login(page, base, email, "wrong password!")
    assert "do not match an account" in page.inner_text(".errors")
    submit_login(page, base, email, password)
    page.wait_for_selector("text=Welcome, Ada")

    # A second device signs in; the first one signs it out from the sessions page (htmx swap, no reload).
    other = browser.new_context(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1").new_page()
    submit_login(other, base, email, password)
    other.wait_for_selector("text=Welcome, Ada")

    page.click("#main-nav >> text=Settings")
    page.wait_for_selector("#profile")
    assert page.locator("#main-nav >> text=Sessions").count() == 0  # it lives under Settings now
    page.click(".settings-nav >> text=Sessions")
    page.wait_for_selector("#sessions")
    assert page.url.endswith("/settings/sessions")  # hx-push-url kept the address bookmarkable
    assert page.get_attribute(".settings-nav >> text=Sessions", "aria-current") == "page"
    assert page.get_attribute("#main-nav >> text=Settings", "aria-current") == "page"
    assert page.get_attribute("#main-nav >> text=Calendar", "aria-current") is None
    assert page.locator("#sessions tbody tr").count() == 2
    screenshot(page, "accounts-sessions")
    page.click("text=Sign out everywhere else")
    page.wait_for_selector(".toast")
    assert page.locator("#sessions tbody tr").count() == 1
    assert "Signed out 1 other session" in page.inner_text(".toast")
    screenshot(page, "accounts-sessions-after-revoke")

    other.reload()
    assert "/login" in other.url
    other.context.close()

    page.go_back()
    page.wait_for_load_state()
    assert console_errors == []
