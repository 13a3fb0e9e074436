"""A new user's first run in Chromium: the calendar's welcome card with the three providers (and, in the sandbox,
the sentence saying the accounts are pretend), the emulator's styled consent page with scopes in words, the
connections page's "Connected ✓ · add another account" and "Go to calendar", calendars grouped by account with the
provider's mark and the email, and the calendar for new events remembered."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import new_google_account, new_microsoft_account
from tests.helpers import DESKTOP, PHONE, screenshot, sign_up_in_browser


def test_first_run_connect_and_accounts_visible(app, live_server, page, provider_servers, mailbox, monkeypatch):
    monkeypatch.setitem(app.config["PROVIDERS"], "sandbox", True)
    google = new_google_account(provider_servers)
    outlook = new_microsoft_account(provider_servers)
    base = live_server.url
    sign_up_in_browser(page, base, mailbox, "first@example.com", "a very fine passphrase", first_name="Ada")

    page.goto(f"{base}/")
    welcome = page.locator(".calendar-welcome")
    expect(welcome.locator(".connect-button")).to_have_text(
        ["G Connect Google", "O Connect Microsoft Outlook", "☁ Connect Apple iCloud"])
    expect(welcome).to_contain_text("these are pretend Google, Outlook and iCloud accounts")
    expect(page.locator("[data-new-event]")).to_be_visible()
    assert page.locator(".flash, .calendar-welcome").count() <= 2
    screenshot(page, "first-run-welcome-desktop")

    welcome.locator("text=Connect Google").click()
    page.wait_for_selector("button[value=allow]")
    expect(page.locator("main")).to_contain_text("See and edit events on all your calendars")
    expect(page.locator("main")).not_to_contain_text("googleapis.com")
    expect(page.locator("button[value=allow]")).to_have_css("background-color", "rgb(11, 87, 208)")
    page.select_option("select[name=login_hint]", google)
    screenshot(page, "consent-google-desktop")
    page.click("button[value=allow]")

    page.wait_for_selector("#connections")
    expect(page.locator(".connected-line")).to_have_text("Connected ✓ · add another account:")
    expect(page.locator(".connect-button.primary")).to_have_count(0)  # adding another is the quiet choice now
    screenshot(page, "connections-connected-desktop")
    page.click("text=Connect Microsoft Outlook")
    page.wait_for_selector("button[value=accept]")
    expect(page.locator("main")).to_contain_text("pretend account")
    page.select_option("select[name=login_hint]", outlook)
    screenshot(page, "consent-microsoft-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "consent-microsoft-phone")
    page.set_viewport_size(DESKTOP)
    page.click("button[value=accept]")
    page.wait_for_selector("#connections")
    page.click("text=Go to calendar")
    page.wait_for_selector("#calendar")

    # Calendars grouped by account: the provider's mark and the email, then its calendars.
    heads = page.locator(".account-group .account-head")
    expect(heads).to_have_count(2)
    expect(heads.filter(has_text=google).locator(".provider-google")).to_be_visible()
    expect(heads.filter(has_text=outlook).locator(".provider-microsoft")).to_be_visible()
    expect(page.locator(".account-group").filter(has_text=google).locator(".calendar-name")).to_have_text(
        ["Work", "Family"])
    screenshot(page, "sidebar-accounts-desktop")

    # The new-event picker groups calendars the same way; the calendar chosen is remembered.
    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    assert page.locator(f'#calendar_id optgroup[label="Google · {google}"] option').all_inner_texts() == \
        ["Work", "Family"]
    family = page.locator('#calendar_id option:has-text("Family")').get_attribute("value")
    page.select_option("#calendar_id", family)
    page.fill("#title", "Piano")
    page.click("#event-panel button[type=submit]")
    page.locator(".event:has-text('Piano')").first.wait_for()
    page.click("[data-new-event]")
    page.wait_for_selector("#event-panel form")
    assert page.input_value("#calendar_id") == family
    page.goto(f"{base}/settings/profile")
    assert page.input_value("#default_calendar_id") == family

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/connections/")
    screenshot(page, "connections-connected-phone")
