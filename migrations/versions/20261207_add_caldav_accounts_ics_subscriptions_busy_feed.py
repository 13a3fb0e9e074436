"""Any CalDAV server, ICS subscriptions and the busy-only feed.

- calendar_provider gains CALDAV (any CalDAV server, two-way) and ICS (a subscribed feed, read-only).
- calendar_connections.server_url: where a CALDAV account's calendars were discovered; its password (sealed in
  access_token, as iCloud's) goes only to that server's site. NULL for every other provider.
- calendar_subscriptions: one row per ICS calendar (its calendar_id is the feed's address): the HTTP validators of
  the last good copy (ETag, Last-Modified), the copy's SHA-256, how often to refresh, and the last check. A
  subscription holds no tokens: a check keeps ICS rows' access_token and refresh_token NULL.
- calendar_feeds.variant: "full" (the existing private feed) or "busy" (busy blocks only); one of each per user.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 18:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # PostgreSQL 12+ adds enum values inside a transaction; they may not be used in it, hence the text casts below.
    op.execute("ALTER TYPE calendar_provider ADD VALUE IF NOT EXISTS 'CALDAV'")
    op.execute("ALTER TYPE calendar_provider ADD VALUE IF NOT EXISTS 'ICS'")
    op.add_column('calendar_connections', sa.Column('server_url', sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f('calendar_connections_subscription_has_no_tokens_check'), 'calendar_connections',
        "provider::text <> 'ICS' OR (access_token IS NULL AND refresh_token IS NULL)")
    op.create_table(
        'calendar_subscriptions',
        sa.Column('connection_id', sa.UUID(), nullable=False),
        sa.Column('refresh_minutes', sa.Integer(), server_default=sa.text('30'), nullable=False),
        sa.Column('etag', sa.Text(), nullable=True),
        sa.Column('last_modified', sa.Text(), nullable=True),
        sa.Column('content_sha256', sa.String(length=64), nullable=True),
        sa.Column('last_checked_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_bytes', sa.BigInteger(), nullable=True),
        sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('refresh_minutes BETWEEN 15 AND 1440',
                           name=op.f('calendar_subscriptions_refresh_minutes_range_check')),
        sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'],
                                name=op.f('calendar_subscriptions_connection_id_fkey'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('connection_id', name=op.f('calendar_subscriptions_pkey')),
    )
    op.add_column('calendar_feeds', sa.Column('variant', sa.String(length=8), server_default='full', nullable=False))
    op.create_check_constraint(op.f('calendar_feeds_variant_known_check'), 'calendar_feeds', "variant IN ('full', 'busy')")
    op.drop_constraint(op.f('calendar_feeds_user_id_key'), 'calendar_feeds', type_='unique')
    op.create_unique_constraint(op.f('calendar_feeds_user_id_variant_key'), 'calendar_feeds', ['user_id', 'variant'])


def downgrade():
    op.execute("DELETE FROM calendar_feeds WHERE variant <> 'full'")
    op.drop_constraint(op.f('calendar_feeds_user_id_variant_key'), 'calendar_feeds', type_='unique')
    op.create_unique_constraint(op.f('calendar_feeds_user_id_key'), 'calendar_feeds', ['user_id'])
    op.drop_constraint(op.f('calendar_feeds_variant_known_check'), 'calendar_feeds', type_='check')
    op.drop_column('calendar_feeds', 'variant')
    op.drop_table('calendar_subscriptions')
    op.drop_constraint(op.f('calendar_connections_subscription_has_no_tokens_check'), 'calendar_connections',
                       type_='check')
    op.drop_column('calendar_connections', 'server_url')
    # PostgreSQL cannot drop an enum value: the calendars of the new kinds go, then the type is made again.
    op.execute("DELETE FROM calendar_connections WHERE provider::text IN ('CALDAV', 'ICS')")
    op.execute("DELETE FROM oauth_states WHERE provider::text IN ('CALDAV', 'ICS')")
    op.execute("ALTER TYPE calendar_provider RENAME TO calendar_provider_old")
    op.execute("CREATE TYPE calendar_provider AS ENUM ('GOOGLE', 'MICROSOFT', 'APPLE')")
    for table in ('calendar_connections', 'oauth_states'):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN provider TYPE calendar_provider "
                   "USING provider::text::calendar_provider")
    op.execute("DROP TYPE calendar_provider_old")
