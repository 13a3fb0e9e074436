"""Bound the calendar's window reads from below: flag events longer than a week (served by their own small
index, so every other event is found on a partial index by a start-time range of the window plus a week) and store when a
series ends (series_until, NULL = never or not yet known), indexed for the series masters of a calendar; index
overrides by the instance they replace, so a window reads only the overrides that touch it.

Series whose end needs their rule expanded (COUNT, several rules, RDATE) start as NULL, which reads them as
endless (correct, just not skipped); their next write by a sync or an edit stores the real end.

Revision ID: 0014w
Revises: 0013d
Create Date: 2026-12-05 07:00:00
"""
from alembic import op

revision = '0014w'
down_revision = '0013d'
branch_labels = None
depends_on = None


def upgrade():
    # Keep the interval equal to webapp.models.events.MAX_PLAIN_DURATION.
    op.execute("ALTER TABLE calendar_events ADD COLUMN is_long boolean NOT NULL "
               "GENERATED ALWAYS AS (end_time - start_time > interval '7 days') STORED")
    op.execute("ALTER TABLE calendar_events ADD COLUMN series_until timestamp(3) with time zone")
    op.execute("""
        UPDATE calendar_events SET series_until = recurrence_end_date + (end_time - start_time) + interval '2 days'
        WHERE is_recurring AND recurrence_count IS NULL AND recurrence_end_date IS NOT NULL
          AND recurrence_rule NOT LIKE '%RDATE%'
          AND length(recurrence_rule) - length(replace(recurrence_rule, 'RRULE', '')) = length('RRULE')
    """)
    # Events (and overrides) up to a week long by start: the window's main range. The planner preferred ANDing
    # the single-column indexes over (calendar_connection_id, start_time, end_time) with its extra filters.
    op.execute("CREATE INDEX calendar_events_short_events_idx ON calendar_events (calendar_connection_id, start_time) "
               "WHERE NOT is_recurring AND NOT is_long AND deleted_at IS NULL")
    op.execute("CREATE INDEX calendar_events_long_events_idx ON calendar_events (calendar_connection_id, end_time) "
               "WHERE is_long AND NOT is_recurring AND deleted_at IS NULL")
    # NULL (endless) sorts as infinity, so "ends after the window starts" is one range of the index.
    # Overrides by the instance they replace (ISO 8601 text in UTC, as every writer stores it).
    op.execute("CREATE INDEX calendar_events_override_original_start_idx ON calendar_events "
               "(calendar_connection_id, (provider_metadata ->> 'original_start_time')) "
               "WHERE parent_event_id IS NOT NULL AND deleted_at IS NULL")
    op.execute("CREATE INDEX calendar_events_series_until_idx ON calendar_events "
               "(calendar_connection_id, coalesce(series_until, 'infinity'::timestamptz)) "
               "WHERE is_recurring AND parent_event_id IS NULL AND deleted_at IS NULL")


def downgrade():
    op.execute("DROP INDEX calendar_events_series_until_idx")
    op.execute("DROP INDEX calendar_events_override_original_start_idx")
    op.execute("DROP INDEX calendar_events_long_events_idx")
    op.execute("DROP INDEX calendar_events_short_events_idx")
    op.execute("ALTER TABLE calendar_events DROP COLUMN series_until")
    op.execute("ALTER TABLE calendar_events DROP COLUMN is_long")
