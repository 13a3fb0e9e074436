"""Every page of the app in Chromium, at a desktop's 1280×800 and a phone's 390×844: one <h1>, nothing wider than
the screen (long provider text included), and axe-core (vendored under tests/vendor) finding no serious or
critical problem. A screenshot of each lands in artifacts/screenshots/.

A new page must be added to PAGES (or to NOT_PAGES with the reason): the test fails on a GET route it does not
know, so nobody adds a page that escapes these checks."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import at, berlin_event, make_connection, make_user
from tests.helpers import ARTIFACTS, DESKTOP, PHONE, log_in, screenshot
from webapp.extensions import db
from webapp.models import AuditLog, CalendarConnection, SyncStatus, User

AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
LONG_WORD = "Conference-room-" + "x" * 300

# Endpoint -> the URL to check, from the seeded data.
PAGES = {
    "auth.login": lambda d: "/login",
    "auth.register": lambda d: "/register",
    "auth.confirm_signup": lambda d: "/register/confirm?token=no-such-link",
    "auth.forgot_password": lambda d: "/forgot-password",
    "auth.reset_password": lambda d: "/reset-password?token=no-such-link",
    "auth.outbox": lambda d: "/dev/outbox",
    "auth.check_email": lambda d: "/check-your-inbox",
    "auth.accept_invitation": lambda d: "/register/invitation?token=no-such-link",
    "calendar.week": lambda d: f"/calendar/week/{d['monday']}",
    "calendar.3day": lambda d: f"/calendar/3day/{d['monday']}",
    "calendar.day": lambda d: f"/calendar/day/{d['monday']}",
    "calendar.month": lambda d: f"/calendar/month/{d['monday']:%Y-%m}",
    "calendar.agenda": lambda d: f"/calendar/agenda?start={d['monday']}",
    "calendar.event": lambda d: f"/calendar/events/{d['long_id']}",
    "calendar.edit_event": lambda d: f"/calendar/events/{d['untitled_id']}/edit",
    "calendar.new_event": lambda d: "/calendar/events/new",
    "calendar.event_status": lambda d: f"/calendar/events/{d['long_id']}/status",
    "connections.index": lambda d: "/connections/",
    "connections.apple": lambda d: "/connections/apple",
    "connections.caldav": lambda d: "/connections/caldav",
    "connections.subscribe_feed": lambda d: "/connections/subscribe",
    "connections.row": lambda d: f"/connections/{d['work_id']}/row",
    "connections.remove_calendar": lambda d: f"/connections/{d['removed_id']}/remove",
    "settings.profile": lambda d: "/settings/profile",
    "feeds.subscribe": lambda d: "/settings/subscribe",
    "settings.your_data": lambda d: "/settings/data",
    "search.results": lambda d: "/search?q=" + d["long_title_word"],
    "auth.sessions": lambda d: "/settings/sessions",
    "admin.index": lambda d: "/admin/",
    "admin.audit_log": lambda d: "/admin/audit",
    "admin.audit_entry": lambda d: f"/admin/audit/{d['audit_id']}",
    "admin.sync_health": lambda d: "/admin/health",
    "admin.users": lambda d: "/admin/users",
    "admin.disable": lambda d: f"/admin/users/{d['member_id']}/disable",
    "admin.make_admin": lambda d: f"/admin/users/{d['member_id']}/make-admin",
    "admin.revoke_admin": lambda d: f"/admin/users/{d['id']}/revoke-admin",  # the only admin: refused, said why
    "admin.delete": lambda d: f"/admin/users/{d['member_id']}/delete",
    "errors.not_found": lambda d: "/no-such-page",
}
NOT_PAGES = {
    "calendar.home": "redirects to the week",
    "calendar.go_to_date": "redirects to a calendar page",
    "calendar.mini_month": "an htmx partial; redirects to a calendar page otherwise",
    "calendar.quick_create": "the quick-create popover (htmx); redirects to the new-event form otherwise",
    "calendar.quick_preview": "the quick-create preview line (htmx); redirects to the new-event form otherwise",
    "admin.user_row_partial": "an htmx partial; redirects to the users page otherwise",
    "settings.index": "redirects to the first settings page",
    "connections.callback": "OAuth redirect target",
    "admin.audit_export": "CSV download",
    "search.suggest": "the top bar's dropdown (htmx); redirects to the results page otherwise",
    "settings.export_data": "a zip download",
    "feeds.feed": "an iCalendar file",
    "ops.healthz": "JSON probe",
    "ops.readyz": "JSON probe",
    "live.stamp": "an open tab's change-stamp poll (plain text)",
    "static": "files",
}
ANONYMOUS = {"auth.login", "auth.register", "auth.confirm_signup", "auth.forgot_password", "auth.reset_password",
             "auth.outbox", "auth.check_email", "auth.accept_invitation"}


@pytest.fixture
def seeded(app, person):  # noqa: F811 (the fixture imported above)
    """`person` as an admin, with the hard cases: a 300-character word in a title, location and guest name, 500
    guests, an untitled event, and a calendar whose name is one long word."""
    monday = person["monday"]
    with app.app_context():
        session = db.session
        session.get(User, person["id"]).is_admin = True
        work = session.get(CalendarConnection, person["work_id"])
        work.calendar_name = "Team-" + "y" * 200
        guests = [{"email": f"guest{n}@example.com", "name": f"Guest {n}", "responseStatus": "needsAction"}
                  for n in range(499)]
        guests.insert(0, {"email": "long@example.com", "name": LONG_WORD, "responseStatus": "accepted"})
        long = berlin_event(session, work, at(monday + timedelta(days=2), 11), at(monday + timedelta(days=2), 12, 30),
                            title=LONG_WORD, location=LONG_WORD, description=LONG_WORD, attendees=guests)
        untitled = berlin_event(session, work, at(monday + timedelta(days=3), 16), title="(No title)")
        removed = make_connection(session, person["id"], calendar_name="Old-" + "z" * 200,
                                  provider_removed_at=at(monday, 8))
        berlin_event(session, removed, at(monday + timedelta(days=1), 9), title=LONG_WORD,
                     sync_status=SyncStatus.FAILED, provider_metadata={"push_error": "calendar_gone"})
        member = make_user(session)  # someone else on the admin's users page
        session.commit()
        return {**person, "long_id": long.id, "untitled_id": untitled.id, "long_title_word": "Conference",
                "removed_id": removed.id, "member_id": member.id}


def test_every_get_route_is_checked_or_known_not_to_be_a_page(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    unknown = routes - set(PAGES) - set(NOT_PAGES)
    assert not unknown, f"add these to PAGES (or NOT_PAGES with a reason): {sorted(unknown)}"


def axe_problems(page) -> list:
    """Serious and critical axe-core violations on the page, with the first few elements of each."""
    results = page.evaluate("window.axe.run(document, {resultTypes: ['violations']})")
    return [(violation["id"], violation["impact"], [node["target"] for node in violation["nodes"][:3]])
            for violation in results["violations"] if violation["impact"] in ("serious", "critical")]


# Every control a finger can hit, measured as drawn: at least 44×44 CSS px on a phone (WCAG 2.5.5, Apple's and
# Google's guidance). A link inside a sentence is exempt (2.5.5's inline exception), a checkbox or radio counts as
# its label, and what cannot be hit (pointer-events: none) or is not drawn is not a target.
SMALL_TARGETS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], " +
                   "label:has(> input[type=checkbox]), label:has(> input[type=radio])";
  const inSentence = (element) => Array.from(element.parentElement.childNodes).some(
    (node) => node !== element && node.nodeType === Node.TEXT_NODE && node.textContent.trim());
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    if (element.matches("input[type=checkbox], input[type=radio]") && element.closest("label")) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.pointerEvents === "none") continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || element.closest(".visually-hidden")) continue;
    if (style.display === "inline" && element.tagName === "A" && inSentence(element)) continue;
    if (box.width < 43.5 || box.height < 43.5) {
      const name = (element.getAttribute("aria-label") || element.textContent || element.name || "").trim();
      small.push(`${element.tagName.toLowerCase()}.${element.className} "${name.slice(0, 30)}" ` +
                 `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""


def check(page, name: str) -> dict:
    page.wait_for_load_state("load")
    page.wait_for_timeout(50)  # calendar.js places markers and scroll positions after load
    found = {
        "h1": page.locator("h1").count(),
        "overflow": page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
        "axe": axe_problems(page),
        "small_targets": page.evaluate(SMALL_TARGETS) if page.viewport_size["width"] <= PHONE["width"] else [],
    }
    screenshot(page, name)
    return found


@pytest.mark.parametrize(("width_name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_page_has_one_h1_no_sideways_scroll_and_no_serious_axe_problem(
        app, live_server, browser, seeded, width_name, viewport):
    context = browser.new_context(viewport=viewport)
    context.add_init_script(path=str(AXE))  # injected by the browser itself: the page's CSP stays strict
    page = context.new_page()
    try:
        results = {}
        for endpoint in sorted(ANONYMOUS):
            page.goto(live_server.url + PAGES[endpoint](seeded))
            results[endpoint] = check(page, f"page-{endpoint.replace('.', '-')}-{width_name}")
        log_in(page, live_server.url, seeded["email"])
        with app.app_context():
            seeded["audit_id"] = db.session.scalars(select(AuditLog.id).limit(1)).one()
        for endpoint, url in PAGES.items():
            if endpoint in ANONYMOUS:
                continue
            page.goto(live_server.url + url(seeded))
            results[endpoint] = check(page, f"page-{endpoint.replace('.', '-')}-{width_name}")

        # The long event's panel open over its day, and all 500 guests shown.
        page.goto(f"{live_server.url}/calendar/day/{seeded['monday'] + timedelta(days=2)}")
        page.wait_for_load_state("load")
        page.click(f'.event[data-event-id="{seeded["long_id"]}"]')
        page.wait_for_selector("#event-panel.is-open")
        assert page.locator("#event-panel .attendees li:visible").count() == 10
        page.click(".more-attendees summary")
        assert page.locator("#event-panel .attendees li:visible").count() == 500
        results["panel"] = check(page, f"page-calendar-panel-{width_name}")
    finally:
        context.close()

    assert {name: found["h1"] for name, found in results.items() if found["h1"] != 1} == {}
    assert {name: found["overflow"] for name, found in results.items() if found["overflow"] > 0} == {}
    assert {name: found["axe"] for name, found in results.items() if found["axe"]} == {}
    small = {name: found["small_targets"] for name, found in results.items() if found["small_targets"]}
    (ARTIFACTS / f"small-tap-targets-{width_name}.json").write_text(json.dumps(small, indent=1))  # for people
    assert small == {}

