"""A small page in each emulator for changing its calendars by hand, as if someone used Google Calendar or Outlook
on their phone: rename an event, move it an hour later, delete it, add one. Under `make run` an open Almanac tab
shows each change within seconds (push notification, sync, redraw). Plain forms, no scripts."""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template_string


@dataclass(frozen=True)
class UiEvent:
    id: str
    title: str
    when: str  # as the provider stores it, for people


@dataclass(frozen=True)
class UiCalendar:
    id: str
    name: str
    account: str
    events: list[UiEvent]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ provider }} (emulator): calendars</title>
<style>body{font:15px system-ui,sans-serif;margin:1.5rem;max-width:60rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}input[type=text]{width:18rem}form{display:inline}
.muted{color:#666}</style></head>
<body>
<h1>{{ provider }} (emulator)</h1>
<p class="muted">Changes here reach Almanac as they would from {{ provider }}: by a push notification, then a sync.</p>
{% for calendar in calendars %}
  <h2>{{ calendar.name }} <span class="muted">{{ calendar.account }}</span></h2>
  <table><tr><th>Event</th><th>When</th><th></th></tr>
  {% for event in calendar.events %}
    <tr><td><form method="post" action="{{ base }}/events/{{ event.id|urlencode }}">
          <input type="hidden" name="calendar" value="{{ calendar.id }}">
          <input type="text" name="title" value="{{ event.title }}" aria-label="Title">
          <button name="action" value="rename">Rename</button></form></td>
        <td class="muted">{{ event.when }}</td>
        <td><form method="post" action="{{ base }}/events/{{ event.id|urlencode }}">
          <input type="hidden" name="calendar" value="{{ calendar.id }}">
          <button name="action" value="later">1 hour later</button>
          <button name="action" value="delete">Delete</button></form></td></tr>
  {% endfor %}
  </table>
  <form method="post" action="{{ base }}/events"><input type="hidden" name="calendar" value="{{ calendar.id }}">
    <input type="text" name="title" placeholder="New event title" aria-label="New event title" required>
    <input type="datetime-local" name="start" aria-label="Starts (UTC)" required>
    <button>Add (1 hour, UTC)</button></form>
{% endfor %}
</body></html>
"""


def render(provider: str, base: str, calendars: list[UiCalendar]) -> str:
    return render_template_string(PAGE, provider=provider, base=base, calendars=calendars)
