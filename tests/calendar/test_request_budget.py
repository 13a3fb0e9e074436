"""A request can never run unbounded: past its CPU budget (REQUEST_CPU_SECONDS) it ends with a friendly 503 and
its thread serves the next request. A budget of nothing stands in for a page that would take too long."""
from __future__ import annotations

from datetime import date

from tests.factories import make_series, utc
from webapp import budget


def test_a_page_past_its_cpu_budget_ends_with_a_friendly_503_and_the_next_request_is_served(
        app, client, signed_in, db_session, calendar, monkeypatch):
    make_series(db_session, calendar, utc(2026, 3, 2, 9), "RRULE:FREQ=DAILY", title="Standup")
    week = f"/calendar/week/{date(2026, 3, 2).isoformat()}"
    monkeypatch.setitem(app.config, "REQUEST_CPU_SECONDS", 0)

    page = client.get(week)
    partial = client.get(week, headers={"HX-Request": "true"})

    assert page.status_code == 503 and "more work than Almanac does for one page" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
    assert partial.status_code == 503 and "<html" not in partial.get_data(as_text=True)
    monkeypatch.setitem(app.config, "REQUEST_CPU_SECONDS", 5.0)
    again = client.get(week)
    assert again.status_code == 200 and "Standup" in again.get_data(as_text=True)


def test_outside_a_request_nothing_is_budgeted():
    budget.close_budget()
    budget.check()  # jobs and commands: no budget, no error
