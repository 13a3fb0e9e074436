"""The truth about a calendar's sync, in the words the connections page and the admin sync-health page show.

Synced (last attempt succeeded, with its time), Syncing (a job is on it right now), Retrying (the reason and
when the next attempt is; a provider's Retry-After is named), Stopped (retries exhausted: the reason and a Retry
button), Needs reconnect, Needs attention (the deletion guard, or no sync finished for several cycles: a green
"Synced" over a stale calendar would be a lie), Removed at the provider (deleted or unshared there: sync stopped
for good, the user removes it from Almanac).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from webapp.formatting import time_ago
from webapp.models import CalendarConnection
from webapp.providers import LABELS
from webapp.sync.policy import SYNC_INTERVAL
from webapp.zones import is_iana_zone

# No finished sync for this long, with nothing failing either: the sweep or the workers are not running.
BEHIND_AFTER = 3 * SYNC_INTERVAL

# Worst first, for lists of troubled calendars.
SEVERITY = ("removed", "stopped", "needs_reconnect", "needs_attention", "behind", "retrying", "syncing", "waiting",
            "synced")


@dataclass(frozen=True)
class SyncState:
    kind: str  # one of SEVERITY
    label: str
    tone: str  # ok | busy | warn | bad: the badge colour
    reason: str | None = None  # a sentence in plain words
    last_synced_at: datetime | None = None

    @property
    def offers_retry(self) -> bool:
        return self.kind == "stopped"

    @property
    def severity(self) -> int:
        return SEVERITY.index(self.kind)


def clock(moment: datetime, zone_name: str | None, now: datetime) -> str:
    """"10:42", or "Mon 3 Mar 10:42" when not today, in the viewer's zone (UTC, said so, without one)."""
    zone = ZoneInfo(zone_name) if is_iana_zone(zone_name) else None
    local, today = moment.astimezone(zone or UTC), now.astimezone(zone or UTC).date()
    text = local.strftime("%H:%M") if local.date() == today else local.strftime("%a %-d %b %H:%M")
    return text if zone else f"{text} UTC"


def sync_state(connection: CalendarConnection, *, now: datetime, zone: str | None = None, is_running: bool = False,
               is_queued: bool = False) -> SyncState:
    label = LABELS[connection.provider]
    synced = connection.last_synced_at
    if connection.provider_removed_at is not None and not (is_running or is_queued):
        account = f" with {connection.account_email}" if connection.account_email else ""
        return SyncState("removed", f"Removed at {label}", "bad",
                         f"{label} no longer has this calendar (it was deleted there, or is no longer shared"
                         f"{account}). Sync has stopped and changes to it are refused; remove it from Almanac.",
                         synced)
    if not connection.is_connected:
        return SyncState("needs_reconnect", "Needs reconnect", "bad", connection.disconnect_reason, synced)
    if is_running or is_queued:
        return SyncState("syncing", "Syncing…", "busy", None, synced)
    if connection.attention_reason:
        return SyncState("needs_attention", "Needs attention", "warn", connection.attention_reason, synced)
    if connection.sync_failures:
        error = connection.last_sync_error or "The last sync failed."
        wait_until = connection.retry_after_until
        if wait_until and wait_until > now:
            return SyncState("retrying", "Retrying", "warn",
                             f"{label} asked us to wait until {clock(wait_until, zone, now)}.", synced)
        if connection.next_attempt_at:
            attempt = connection.next_attempt_at
            when = "shortly" if attempt <= now else f"at {clock(attempt, zone, now)}"
            return SyncState("retrying", "Retrying", "warn", f"{error} Next attempt {when}.", synced)
        attempts = connection.sync_failures
        return SyncState("stopped", "Stopped", "bad",
                         f"{error} Sync stopped after {attempts} failed attempt{'s' if attempts != 1 else ''}.",
                         synced)
    if synced is None:
        return SyncState("waiting", "Waiting for the first sync", "busy", None, None)
    if now - synced > BEHIND_AFTER:
        return SyncState("behind", "Needs attention", "warn",
                         f"No sync has finished since {time_ago(synced, now)}; Almanac's sync workers may be "
                         "stopped.", synced)
    return SyncState("synced", f"Synced {time_ago(synced, now)}", "ok", _skipped_note(connection.skipped_events),
                     synced)


def _skipped_note(skipped: list[dict] | None) -> str | None:
    if not skipped:
        return None
    first = skipped[0]
    more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    return (f"{len(skipped)} event{'s' if len(skipped) != 1 else ''} could not be stored: "
            f"{first.get('id') or 'an event without an id'} ({first.get('reason')}){more}.")

