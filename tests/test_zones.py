"""webapp.zones: the one test of a time zone name, for forms, browsers and providers alike."""
from __future__ import annotations

import pytest

from webapp.calendar.zones import time_zone_names, zone_or_utc
from webapp.providers.content import clean_event
from webapp.providers.google import zone
from webapp.providers.ical import parse_calendar_resource
from webapp.providers.windows_zones import windows_to_iana
from webapp.zones import is_iana_zone

NOT_ZONES = ["right/Europe/Berlin", "posix/Europe/Berlin", "posixrules", "Factory", "localtime", "Europe",
             "europe/berlin", "Europe/Berlin/", "Europe//Berlin", "../zoneinfo/UTC", "", None, 3]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_files_and_folders_of_the_zoneinfo_folder_are_not_zones(name):
    assert not is_iana_zone(name)
    assert zone_or_utc(name).key == "UTC" and zone(name).key == "UTC" and windows_to_iana(name) is None


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5",
                                  "US/Eastern", "Asia/Calcutta", "GB"])
def test_tz_database_names_and_their_backward_links_are_zones(name):
    assert is_iana_zone(name)


def test_every_zone_offered_in_the_pickers_is_one():
    assert all(is_iana_zone(name) for name in time_zone_names())
    assert "Europe/Berlin" in time_zone_names() and "US/Eastern" not in time_zone_names()


def test_a_provider_event_in_a_copy_of_a_zone_is_stored_in_utc():
    [event] = parse_calendar_resource(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260301T000000Z\r\n"
        "DTSTART;TZID=right/Europe/Berlin:20260302T090000\r\nDTEND;TZID=right/Europe/Berlin:20260302T100000\r\n"
        "SUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "/cal/a.ics", None)
    assert clean_event(event) is None
    assert event.timezone == "UTC" and event.start_time.hour == 9
