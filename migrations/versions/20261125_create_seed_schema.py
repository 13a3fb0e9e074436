"""Create the seed schema: users, sessions, connections, OAuth states, events and the audit log.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:20:07.838618
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

UPDATED_AT_TABLES = ("users", "calendar_connections", "calendar_events")
ENUMS = ("audit_status", "calendar_provider", "event_status", "sync_status", "recurrence_frequency")


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('deleted_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('email = lower(email)', name=op.f('users_email_lower_case_check')),
    sa.PrimaryKeyConstraint('id', name=op.f('users_pkey')),
    sa.UniqueConstraint('email', name=op.f('users_email_key'))
    )
    op.create_table('audit_logs',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('resource_type', sa.String(length=100), nullable=True),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('SUCCESS', 'FAILURE', name='audit_status'), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('audit_logs_user_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('audit_logs_pkey'))
    )
    op.create_index(op.f('audit_logs_action_idx'), 'audit_logs', ['action'])
    op.create_index('audit_logs_created_at_id_idx', 'audit_logs', ['created_at', 'id'])
    op.create_index(op.f('audit_logs_user_id_idx'), 'audit_logs', ['user_id'])
    op.create_table('calendar_connections',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Enum('GOOGLE', 'MICROSOFT', 'APPLE', name='calendar_provider'), nullable=False),
    sa.Column('calendar_id', sa.String(length=1024), nullable=False),
    sa.Column('calendar_name', sa.Text(), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('token_expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('calendar_color', sa.String(length=7), nullable=True),
    sa.Column('is_primary', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_connected', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('last_synced_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('sync_token', sa.Text(), nullable=True),
    sa.Column('deleted_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("calendar_color ~ '^#[0-9a-f]{6}$'", name=op.f('calendar_connections_calendar_color_hex_check')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('calendar_connections_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('calendar_connections_pkey')),
    sa.UniqueConstraint('user_id', 'provider', 'calendar_id', name=op.f('calendar_connections_user_id_provider_calendar_id_key'))
    )
    op.create_index(op.f('calendar_connections_deleted_at_idx'), 'calendar_connections', ['deleted_at'])
    op.create_index(op.f('calendar_connections_is_connected_idx'), 'calendar_connections', ['is_connected'])
    op.create_index(op.f('calendar_connections_last_synced_at_idx'), 'calendar_connections', ['last_synced_at'])
    op.create_index(op.f('calendar_connections_provider_idx'), 'calendar_connections', ['provider'])
    op.create_index(op.f('calendar_connections_user_id_idx'), 'calendar_connections', ['user_id'])
    op.create_table('oauth_states',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Enum('GOOGLE', 'MICROSOFT', 'APPLE', name='calendar_provider'), nullable=False),
    sa.Column('state', sa.String(length=255), nullable=False),
    sa.Column('expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('consumed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('expires_at > created_at', name=op.f('oauth_states_expires_after_creation_check')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('oauth_states_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('oauth_states_pkey')),
    sa.UniqueConstraint('state', name=op.f('oauth_states_state_key'))
    )
    op.create_index(op.f('oauth_states_expires_at_idx'), 'oauth_states', ['expires_at'])
    op.create_index(op.f('oauth_states_user_id_provider_idx'), 'oauth_states', ['user_id', 'provider'])
    op.create_table('sessions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('last_seen_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('expires_at > created_at', name=op.f('sessions_expires_after_creation_check')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('sessions_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('sessions_pkey')),
    sa.UniqueConstraint('token_hash', name=op.f('sessions_token_hash_key'))
    )
    op.create_index(op.f('sessions_expires_at_idx'), 'sessions', ['expires_at'])
    op.create_index(op.f('sessions_user_id_idx'), 'sessions', ['user_id'])
    op.create_table('calendar_events',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('calendar_connection_id', sa.UUID(), nullable=False),
    sa.Column('provider_event_id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.Column('start_time', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('end_time', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('is_all_day', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('timezone', sa.String(length=100), nullable=False),
    sa.Column('status', sa.Enum('CONFIRMED', 'TENTATIVE', 'CANCELLED', name='event_status'), nullable=False),
    sa.Column('sync_status', sa.Enum('PENDING', 'SYNCED', 'FAILED', 'DELETED', name='sync_status'), nullable=False),
    sa.Column('is_recurring', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('recurrence_rule', sa.Text(), nullable=True),
    sa.Column('recurrence_frequency', sa.Enum('DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY', name='recurrence_frequency'), nullable=True),
    sa.Column('recurrence_interval', sa.Integer(), nullable=True),
    sa.Column('recurrence_end_date', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('recurrence_count', sa.Integer(), nullable=True),
    sa.Column('parent_event_id', sa.UUID(), nullable=True),
    sa.Column('attendees', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('reminders', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('provider_metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('html_link', sa.Text(), nullable=True),
    sa.Column('last_synced_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('deleted_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('updated_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('end_time >= start_time', name=op.f('calendar_events_ends_after_start_check')),
    sa.CheckConstraint('recurrence_count > 0', name=op.f('calendar_events_recurrence_count_positive_check')),
    sa.CheckConstraint('recurrence_interval > 0', name=op.f('calendar_events_recurrence_interval_positive_check')),
    sa.ForeignKeyConstraint(['calendar_connection_id'], ['calendar_connections.id'], name=op.f('calendar_events_calendar_connection_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_event_id'], ['calendar_events.id'], name=op.f('calendar_events_parent_event_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('calendar_events_pkey')),
    sa.UniqueConstraint('calendar_connection_id', 'provider_event_id', name=op.f('calendar_events_calendar_connection_id_provider_event_id_key'))
    )
    op.create_index(op.f('calendar_events_calendar_connection_id_idx'), 'calendar_events', ['calendar_connection_id'])
    op.create_index('calendar_events_connection_date_range_idx', 'calendar_events', ['calendar_connection_id', 'start_time', 'end_time'])
    op.create_index('calendar_events_connection_sync_status_idx', 'calendar_events', ['calendar_connection_id', 'sync_status'])
    op.create_index(op.f('calendar_events_deleted_at_idx'), 'calendar_events', ['deleted_at'])
    op.create_index(op.f('calendar_events_end_time_idx'), 'calendar_events', ['end_time'])
    op.create_index(op.f('calendar_events_is_recurring_idx'), 'calendar_events', ['is_recurring'])
    op.create_index(op.f('calendar_events_parent_event_id_idx'), 'calendar_events', ['parent_event_id'])
    op.create_index(op.f('calendar_events_provider_event_id_idx'), 'calendar_events', ['provider_event_id'])
    op.create_index(op.f('calendar_events_start_time_idx'), 'calendar_events', ['start_time'])
    op.create_index(op.f('calendar_events_status_idx'), 'calendar_events', ['status'])
    op.create_index(op.f('calendar_events_sync_status_idx'), 'calendar_events', ['sync_status'])


    # updated_at stays current on every UPDATE, including bulk upserts that bypass the ORM.
    op.execute("""
        CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END $$
    """)
    for table in UPDATED_AT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def downgrade():
    for table in UPDATED_AT_TABLES:
        op.execute(f"DROP TRIGGER {table}_set_updated_at ON {table}")
    op.execute("DROP FUNCTION set_updated_at()")
    op.drop_index(op.f('calendar_events_sync_status_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_status_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_start_time_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_provider_event_id_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_parent_event_id_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_is_recurring_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_end_time_idx'), table_name='calendar_events')
    op.drop_index(op.f('calendar_events_deleted_at_idx'), table_name='calendar_events')
    op.drop_index('calendar_events_connection_sync_status_idx', table_name='calendar_events')
    op.drop_index('calendar_events_connection_date_range_idx', table_name='calendar_events')
    op.drop_index(op.f('calendar_events_calendar_connection_id_idx'), table_name='calendar_events')
    op.drop_table('calendar_events')
    op.drop_index(op.f('sessions_user_id_idx'), table_name='sessions')
    op.drop_index(op.f('sessions_expires_at_idx'), table_name='sessions')
    op.drop_table('sessions')
    op.drop_index(op.f('oauth_states_user_id_provider_idx'), table_name='oauth_states')
    op.drop_index(op.f('oauth_states_expires_at_idx'), table_name='oauth_states')
    op.drop_table('oauth_states')
    op.drop_index(op.f('calendar_connections_user_id_idx'), table_name='calendar_connections')
    op.drop_index(op.f('calendar_connections_provider_idx'), table_name='calendar_connections')
    op.drop_index(op.f('calendar_connections_last_synced_at_idx'), table_name='calendar_connections')
    op.drop_index(op.f('calendar_connections_is_connected_idx'), table_name='calendar_connections')
    op.drop_index(op.f('calendar_connections_deleted_at_idx'), table_name='calendar_connections')
    op.drop_table('calendar_connections')
    op.drop_index(op.f('audit_logs_user_id_idx'), table_name='audit_logs')
    op.drop_index('audit_logs_created_at_id_idx', table_name='audit_logs')
    op.drop_index(op.f('audit_logs_action_idx'), table_name='audit_logs')
    op.drop_table('audit_logs')
    op.drop_table('users')
    for enum_name in ENUMS:
        sa.Enum(name=enum_name).drop(op.get_bind())
