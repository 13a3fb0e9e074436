"""Add connection status columns, user preferences (time zone, week start) and the admin/disabled flags.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:23:30.575501
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('calendar_connections', sa.Column('account_email', sa.String(length=255), nullable=True))
    op.add_column('calendar_connections', sa.Column('can_write', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.add_column('calendar_connections', sa.Column('is_visible', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.add_column('calendar_connections', sa.Column('disconnect_reason', sa.Text(), nullable=True))
    op.add_column('calendar_connections', sa.Column('attention_reason', sa.Text(), nullable=True))
    op.add_column('calendar_connections', sa.Column('last_sync_error', sa.Text(), nullable=True))
    op.add_column('calendar_connections', sa.Column('sync_failures', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('oauth_states', sa.Column('code_verifier', sa.Text(), nullable=True))
    op.add_column('users', sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('week_start', sa.SmallInteger(), server_default=sa.text('1'), nullable=False))
    op.add_column('users', sa.Column('is_admin', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('users', sa.Column('disabled_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True))
    op.create_check_constraint(op.f('users_week_start_iso_weekday_check'), 'users', 'week_start BETWEEN 1 AND 7')


def downgrade():
    op.drop_constraint(op.f('users_week_start_iso_weekday_check'), 'users', type_='check')
    op.drop_column('users', 'disabled_at')
    op.drop_column('users', 'is_admin')
    op.drop_column('users', 'week_start')
    op.drop_column('users', 'time_zone')
    op.drop_column('oauth_states', 'code_verifier')
    op.drop_column('calendar_connections', 'sync_failures')
    op.drop_column('calendar_connections', 'last_sync_error')
    op.drop_column('calendar_connections', 'attention_reason')
    op.drop_column('calendar_connections', 'disconnect_reason')
    op.drop_column('calendar_connections', 'is_visible')
    op.drop_column('calendar_connections', 'can_write')
    op.drop_column('calendar_connections', 'account_email')
