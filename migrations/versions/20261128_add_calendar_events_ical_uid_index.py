"""Index calendar_events by iCalendar UID: the event panel finds the copies of an invitation on other calendars.

Revision ID: 0013d
Revises: 0013c
Create Date: 2026-11-27 15:00:00
"""
from alembic import op

revision = '0013d'
down_revision = '0013c'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE INDEX calendar_events_ical_uid_idx ON calendar_events ((provider_metadata ->> 'ical_uid'))")


def downgrade():
    op.execute("DROP INDEX calendar_events_ical_uid_idx")
