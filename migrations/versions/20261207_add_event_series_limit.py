"""Store why a series cannot be shown in full (series_limit, NULL = it can): a rule that repeats more than 24
times a day, or one that takes too long to work out. Its panel says so, and the connections page lists such
series per calendar, on a small partial index.

Existing series are assessed once here, with the same function the sync and the edit forms call
(webapp.recurrence.expansion_limit), a thousand masters at a time.

Revision ID: 0015
Revises: 0014w
Create Date: 2026-12-07 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014w'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    from webapp.recurrence import SeriesMaster, expansion_limit

    op.execute("ALTER TABLE calendar_events ADD COLUMN series_limit text")
    connection = op.get_bind()
    masters = sa.text("SELECT id, start_time, end_time, is_all_day, timezone, recurrence_rule FROM calendar_events "
                      "WHERE is_recurring AND parent_event_id IS NULL AND id > :after ORDER BY id LIMIT :batch")
    store = sa.text("UPDATE calendar_events SET series_limit = :limit WHERE id = :id")
    after = "00000000-0000-0000-0000-000000000000"
    while rows := connection.execute(masters, {"after": after, "batch": BATCH}).all():
        limited = [{"id": row.id, "limit": limit} for row in rows if (limit := expansion_limit(SeriesMaster(
            row.id, row.start_time, row.end_time, row.is_all_day, row.timezone, row.recurrence_rule)))]
        if limited:
            connection.execute(store, limited)
        after = rows[-1].id
    op.execute("CREATE INDEX calendar_events_series_limit_idx ON calendar_events (calendar_connection_id) "
               "WHERE series_limit IS NOT NULL AND deleted_at IS NULL")


def downgrade():
    op.execute("DROP INDEX calendar_events_series_limit_idx")
    op.execute("ALTER TABLE calendar_events DROP COLUMN series_limit")
