"""The change stamp open tabs poll moves when a sync stored something (or a push settled an event's state), and
stays when a sync found nothing."""
from __future__ import annotations

from tests.helpers import google_timed, soon
from webapp import changes


def test_a_sync_that_stored_changes_moves_the_owners_stamp_and_a_quiet_one_does_not(app, google, run_sync, redis,
                                                                                    user):
    connection, calendar_id, state = google
    with app.app_context():
        first = changes.current(redis, user.id)
    state.add_event(calendar_id, google_timed("New at Google", soon()))
    run_sync(connection.id)
    with app.app_context():
        after_change = changes.current(redis, user.id)
        assert after_change > first
    run_sync(connection.id)
    with app.app_context():
        assert changes.current(redis, user.id) == after_change
    event_id = state.stored_events(calendar_id)[0]["id"]
    state.delete_event(calendar_id, event_id)
    run_sync(connection.id)
    with app.app_context():
        assert changes.current(redis, user.id) > after_change
