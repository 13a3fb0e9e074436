"""Push notifications: watch_channels (Google watch channels, Graph subscriptions) and why a calendar has none
(calendar_connections.watch_unavailable_reason, watch_failed_at).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 18:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)


def upgrade():
    op.add_column('calendar_connections', sa.Column('watch_unavailable_reason', sa.Text(), nullable=True))
    op.add_column('calendar_connections', sa.Column('watch_failed_at', TIMESTAMP, nullable=True))
    watch_kind = postgresql.ENUM('EVENTS', 'CALENDAR_LIST', name='watch_kind')
    watch_kind.create(op.get_bind())
    op.create_table(
        'watch_channels',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('user_id', sa.UUID(), nullable=True),
        sa.Column('provider', postgresql.ENUM(name='calendar_provider', create_type=False), nullable=False),
        sa.Column('kind', postgresql.ENUM(name='watch_kind', create_type=False), nullable=False),
        sa.Column('connection_id', sa.UUID(), nullable=True),
        sa.Column('account_email', sa.String(length=255), nullable=True),
        sa.Column('channel_id', sa.String(length=255), nullable=False),
        sa.Column('resource_id', sa.Text(), nullable=True),
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('expires_at', TIMESTAMP, nullable=True),
        sa.Column('renewed_at', TIMESTAMP, nullable=True),
        sa.Column('stop_requested_at', TIMESTAMP, nullable=True),
        sa.Column('access_token', sa.Text(), nullable=True),
        sa.Column('created_at', TIMESTAMP, server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind = 'CALENDAR_LIST' OR connection_id IS NOT NULL OR stop_requested_at IS NOT NULL",
                           name=op.f('watch_channels_events_channel_has_calendar_check')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('watch_channels_user_id_fkey'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'],
                                name=op.f('watch_channels_connection_id_fkey'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('watch_channels_pkey')),
        sa.UniqueConstraint('channel_id', name=op.f('watch_channels_channel_id_key')),
    )
    op.create_index(op.f('watch_channels_expires_at_idx'), 'watch_channels', ['expires_at'])
    op.create_index(op.f('watch_channels_connection_id_idx'), 'watch_channels', ['connection_id'])
    op.create_index(op.f('watch_channels_user_id_provider_account_email_idx'), 'watch_channels',
                    ['user_id', 'provider', 'account_email'])


def downgrade():
    op.drop_index(op.f('watch_channels_user_id_provider_account_email_idx'), table_name='watch_channels')
    op.drop_index(op.f('watch_channels_connection_id_idx'), table_name='watch_channels')
    op.drop_index(op.f('watch_channels_expires_at_idx'), table_name='watch_channels')
    op.drop_table('watch_channels')
    postgresql.ENUM(name='watch_kind').drop(op.get_bind())
    op.drop_column('calendar_connections', 'watch_failed_at')
    op.drop_column('calendar_connections', 'watch_unavailable_reason')
