"""Add what the sync status needs on calendar_connections: when the last attempt ended, when the next one is due,
the provider's Retry-After deadline, the last failure's kind, and the events the last sync had to skip.

Revision ID: 0009a
Revises: 0003
Create Date: 2026-11-28 11:30:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009a'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('calendar_connections', sa.Column('last_attempt_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True))
    op.add_column('calendar_connections', sa.Column('next_attempt_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True))
    op.add_column('calendar_connections', sa.Column('retry_after_until', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True))
    op.add_column('calendar_connections', sa.Column('last_failure_kind', sa.String(length=64), nullable=True))
    op.add_column('calendar_connections', sa.Column('skipped_events', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade():
    op.drop_column('calendar_connections', 'skipped_events')
    op.drop_column('calendar_connections', 'last_failure_kind')
    op.drop_column('calendar_connections', 'retry_after_until')
    op.drop_column('calendar_connections', 'next_attempt_at')
    op.drop_column('calendar_connections', 'last_attempt_at')
