"""`make run` shows live updates out of the box: the launcher's sandbox, gunicorn, worker and scheduler as they
start on a fresh machine; a calendar connected to the Google emulator; an event renamed on the emulator's own page
shows in the open week tab by itself."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import (
    PROJECT_ROOT,
    checkout_environment,
    clean_up_after_failure,
    csrf_token_from,
    free_port,
    process_tree,
    stop_with_ctrl_c,
    wait_for,
    wait_for_mailed_link,
    wait_until_up,
)

pytestmark = pytest.mark.slow


def sign_up(browser: requests.Session, base: str, port: int) -> None:
    token = csrf_token_from(browser.get(f"{base}/register").text)
    browser.post(f"{base}/register", data={"email": "live@example.com", "password": "a fine passphrase",
                                           "confirm": "a fine passphrase", "csrf_token": token})
    confirm = browser.get(wait_for_mailed_link(browser, port))
    response = browser.post(f"{base}/register/confirm", data={
        "token": re.search(r'name="token" type="hidden" value="([^"]+)"', confirm.text).group(1),
        "csrf_token": csrf_token_from(confirm.text)})
    assert "Welcome" in response.text


def connect_google(browser: requests.Session, base: str) -> str:
    """Connect the sandbox's Google account; returns the emulator's base URL."""
    token = csrf_token_from(browser.get(f"{base}/connections/").text)
    consent = browser.post(f"{base}/connections/google/connect", data={"csrf_token": token},
                           allow_redirects=False).headers["Location"]
    back = requests.get(consent + "&emulator_auto=allow", allow_redirects=False, timeout=10).headers["Location"]
    assert "Connected 2 Google calendars" in browser.get(back).text
    parts = urlsplit(consent)
    return f"{parts.scheme}://{parts.netloc}"


def test_an_event_renamed_on_the_google_emulator_shows_in_the_open_tab(tmp_path, browser):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Its output goes to a file: a pipe nobody reads would fill up and stall every process writing to it.
    with open(tmp_path / "launcher.log", "w") as log:
        launcher = subprocess.Popen([sys.executable, "-m", "local"], cwd=PROJECT_ROOT, stdout=log,
                                    stderr=subprocess.STDOUT, text=True,
                                    env=checkout_environment(tmp_path / "instance", PORT=str(port)))
    context = None
    try:
        wait_until_up(launcher, port, timeout=120)
        session = requests.Session()
        sign_up(session, base, port)
        google = connect_google(session, base)
        ui = requests.get(f"{google}/_emulator/ui", timeout=10).text
        event_id = re.search(r'action="/_emulator/ui/events/([^"]+)">\s*<input type="hidden" name="calendar" '
                             r'value="([^"]+)">\s*<input type="text" name="title" value="1:1 with Priya"', ui)
        assert event_id, ui
        monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())

        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.add_cookies([{"name": name, "value": value, "url": base} for name, value in session.cookies.items()])
        page = context.new_page()
        page.goto(f"{base}/calendar/week/{monday.isoformat()}")
        page.wait_for_selector(".event:has-text('1:1 with Priya')", timeout=60_000)  # the first sync ran
        wait_for(lambda: "changes arrive within seconds" in session.get(f"{base}/connections/").text, 60,
                 "the calendar's watch channel")

        requests.post(f"{google}/_emulator/ui/events/{event_id.group(1)}", timeout=10,
                      data={"calendar": event_id.group(2), "action": "rename", "title": "1:1 with Priya (renamed)"})
        page.wait_for_selector(".event:has-text('1:1 with Priya (renamed)')", timeout=30_000)
        assert page.inner_text("[data-live-note]").startswith("Updated")
        descendants = process_tree(launcher.pid)
    except BaseException:
        if context is not None:
            context.close()
        clean_up_after_failure(launcher)
        raise
    context.close()
    stop_with_ctrl_c(launcher, descendants)
