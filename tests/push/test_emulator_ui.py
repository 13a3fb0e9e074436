"""The emulators' pages for changing calendars by hand (what `make run` prints): each change is stored and, like
any other, notified to the channels watching that calendar."""
from __future__ import annotations

from sandbox.google_emulator import GoogleState, create_google_emulator
from sandbox.microsoft_emulator import MicrosoftState, create_microsoft_emulator


def test_google_page_renames_moves_adds_and_deletes():
    state = GoogleState()
    state.add_calendar("me@gmail.com", "me@gmail.com", "Work", primary=True)
    event = state.add_event("me@gmail.com", {"summary": "Standup", "start": {"dateTime": "2026-12-08T09:00:00Z"},
                                             "end": {"dateTime": "2026-12-08T09:15:00Z"}})
    client = create_google_emulator(state).test_client()
    assert "Standup" in client.get("/_emulator/ui").get_data(as_text=True)

    form = {"calendar": "me@gmail.com"}
    client.post(f"/_emulator/ui/events/{event['id']}", data=form | {"action": "rename", "title": "Standup (new)"})
    client.post(f"/_emulator/ui/events/{event['id']}", data=form | {"action": "later"})
    (stored,) = state.stored_events("me@gmail.com")
    assert stored["summary"] == "Standup (new)" and stored["start"]["dateTime"].startswith("2026-12-08T10:00:00")
    client.post("/_emulator/ui/events", data=form | {"title": "Lunch", "start": "2026-12-08T12:00"})
    client.post(f"/_emulator/ui/events/{event['id']}", data=form | {"action": "delete"})
    live = [item["summary"] for item in state.stored_events("me@gmail.com") if item["status"] != "cancelled"]
    assert live == ["Lunch"]


def test_outlook_page_renames_moves_and_deletes():
    state = MicrosoftState()
    calendar_id = state.add_account("me@outlook.com") and state.default_calendar_id("me@outlook.com")
    event_id = state.add_event(calendar_id, {"subject": "Review", "start": {"dateTime": "2026-12-08T09:00:00",
                                             "timeZone": "UTC"}, "end": {"dateTime": "2026-12-08T10:00:00",
                                                                         "timeZone": "UTC"}})
    client = create_microsoft_emulator(state).test_client()
    assert "Review" in client.get("/_emulator/ui").get_data(as_text=True)
    client.post(f"/_emulator/ui/events/{event_id}", data={"action": "rename", "title": "Review (moved)"})
    client.post(f"/_emulator/ui/events/{event_id}", data={"action": "later"})
    (stored,) = state.list_events(calendar_id)
    assert stored["subject"] == "Review (moved)" and stored["start"]["dateTime"].startswith("2026-12-08T10:00:00")
    client.post(f"/_emulator/ui/events/{event_id}", data={"action": "delete"})
    assert state.list_events(calendar_id) == []
