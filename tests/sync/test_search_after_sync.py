"""A sync's large pages leave their search vectors for right after the sync: search is complete when the sync
job ends, or once its follow-up job has run when the sync brought many events. (The words are in the notes, which
only the vectors hold: the titles' trigrams would find the events anyway.)"""
from __future__ import annotations

import re

from rq import Queue, SimpleWorker

from tests.helpers import google_timed, soon
from webapp.sync import pull, runner


def found(client, query: str) -> int:
    return len(re.findall(r'<a class="search-title"', client.get("/search", query_string={"q": query})
                          .get_data(as_text=True)))


def add_events(state, calendar_id, count: int, word: str) -> None:
    for index in range(count):
        state.add_event(calendar_id, google_timed(f"Outing {index}", soon(days=1 + index % 20),
                                                  description=f"Bring the {word} map, number {index}."))


def test_a_large_page_is_searchable_when_the_sync_ends(google, run_sync, client, redis):
    connection, calendar_id, state = google
    add_events(state, calendar_id, pull.DEFER_SEARCH_FROM + 5, "harbour")

    assert run_sync(connection.id)["created"] == pull.DEFER_SEARCH_FROM + 5

    assert found(client, "harbour") == 50  # a page of results
    assert found(client, "harbour 54") == 1
    assert not [job_id for job_id in Queue("sync", connection=redis).job_ids if job_id.startswith("index-search-")]


def test_many_events_are_indexed_by_a_follow_up_job(google, run_sync, client, redis, monkeypatch):
    connection, calendar_id, state = google
    connection_id = connection.id
    monkeypatch.setattr(runner, "INDEX_INLINE_MAX", 10)
    add_events(state, calendar_id, pull.DEFER_SEARCH_FROM, "lighthouse")

    run_sync(connection_id)

    assert found(client, "lighthouse") == 0
    queue = Queue("sync", connection=redis)
    assert f"index-search-{connection_id}" in queue.job_ids
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert found(client, "lighthouse") == pull.DEFER_SEARCH_FROM
