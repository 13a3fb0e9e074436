"""Mark calendars the provider no longer has for the account (deleted there, or no longer shared with it):
calendar_connections.provider_removed_at. Sync stops retrying them and writes to them are refused until the user
removes them from Almanac.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:30:00
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE calendar_connections ADD COLUMN provider_removed_at timestamp(3) with time zone")


def downgrade():
    op.execute("ALTER TABLE calendar_connections DROP COLUMN provider_removed_at")
