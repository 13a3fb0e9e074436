"""The search index beside the events (event_search, migration 0025): every write keeps it at once, except the
writes a sync defers, which `index_pending` completes; search then answers as if nothing had been deferred."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy import func, select, update

from tests.factories import make_event
from webapp.models import CalendarEvent
from webapp.models.events import EventSearch, EventSearchPending
from webapp.providers.base import RemoteEvent
from webapp.sync import search_index
from webapp.sync.events import as_row, upsert_events


def titles(client, query: str) -> list[str]:
    html = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    return [unescape(re.sub(r"</?(mark|bdi)>", "", title))
            for title in re.findall(r'<a class="search-title" href="[^"]*">(.*?)</a>', html, re.S)]


def remote(number: int, title: str) -> RemoteEvent:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=number)
    return RemoteEvent(provider_event_id=f"deferred-{number}", title=title, start_time=start,
                       end_time=start + timedelta(hours=1), is_all_day=False, timezone="UTC", status="CONFIRMED",
                       location="Room 4", etag=f"etag-{number}")


def pending(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(EventSearchPending))


def test_deferred_writes_wait_for_index_pending_then_search_as_before(signed_in, db_session, calendar):
    make_event(db_session, calendar, datetime.now(UTC) + timedelta(days=2), title="Quarterly review, indexed at once")
    rows = [as_row(remote(number, f"Quarterly review {number}"), None, datetime.now(UTC)) for number in range(3)]

    with search_index.deferred(db_session):
        assert upsert_events(db_session, calendar.id, rows) == (3, 0)
    db_session.commit()

    assert pending(db_session) == 3
    assert titles(signed_in, "quarterly") == ["Quarterly review, indexed at once"]
    assert search_index.index_pending(db_session, calendar.id) == 3
    assert pending(db_session) == 0
    assert sorted(titles(signed_in, "quarterly")) == ["Quarterly review 0", "Quarterly review 1",
                                                       "Quarterly review 2", "Quarterly review, indexed at once"]
    assert titles(signed_in, "quarterly review 1") == ["Quarterly review 1"]


def test_writes_outside_a_deferral_are_searchable_at_once_and_follow_every_change(signed_in, db_session, calendar):
    event = make_event(db_session, calendar, datetime.now(UTC) + timedelta(days=1), title="Dentist")
    assert titles(signed_in, "dentist") == ["Dentist"]

    db_session.execute(update(CalendarEvent).where(CalendarEvent.id == event.id).values(title="Orthodontist"))
    db_session.commit()
    assert titles(signed_in, "dentist") == []
    assert titles(signed_in, "orthodontist") == ["Orthodontist"]

    # An update that leaves the searched text alone does not touch the index.
    before = db_session.scalar(select(EventSearch.search_vector).where(EventSearch.event_id == event.id))
    db_session.execute(update(CalendarEvent).where(CalendarEvent.id == event.id).values(html_link="https://x.test"))
    db_session.commit()
    assert db_session.scalar(select(EventSearch.search_vector).where(EventSearch.event_id == event.id)) == before
    assert pending(db_session) == 0


def test_a_change_deferred_by_a_sync_keeps_the_old_words_until_indexed(signed_in, db_session, calendar):
    rows = [as_row(remote(0, "Piano lesson"), None, datetime.now(UTC))]
    upsert_events(db_session, calendar.id, rows)
    db_session.commit()
    changed = [as_row(replace(remote(0, "Violin lesson"), etag="etag-new"), None, datetime.now(UTC))]

    with search_index.deferred(db_session):
        assert upsert_events(db_session, calendar.id, changed) == (0, 1)
    db_session.commit()

    assert titles(signed_in, "piano") == ["Violin lesson"]  # found by the words it had, shown as it is now
    search_index.index_pending(db_session)
    assert titles(signed_in, "piano") == []
    assert titles(signed_in, "violin") == ["Violin lesson"]


def test_the_sweeps_catch_up_indexes_every_calendar_and_forgets_deleted_events(signed_in, db_session, calendar):
    rows = [as_row(remote(number, f"Board meeting {number}"), None, datetime.now(UTC)) for number in range(2)]
    with search_index.deferred(db_session):
        upsert_events(db_session, calendar.id, rows)
    db_session.add(EventSearchPending(event_id=uuid.uuid4(), calendar_connection_id=calendar.id))  # deleted since
    db_session.commit()

    assert search_index.index_pending(db_session) == 2

    assert pending(db_session) == 0
    assert sorted(titles(signed_in, "board")) == ["Board meeting 0", "Board meeting 1"]
