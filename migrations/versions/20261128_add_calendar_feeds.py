"""Add calendar_feeds: one private iCalendar address per user, stored as the hash of its token.

Revision ID: 0013b
Revises: 0013a
Create Date: 2026-11-26 14:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013b'
down_revision = '0013a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('include_attendees', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('changed_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('calendar_feeds_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('calendar_feeds_pkey')),
    sa.UniqueConstraint('token_hash', name=op.f('calendar_feeds_token_hash_key')),
    sa.UniqueConstraint('user_id', name=op.f('calendar_feeds_user_id_key'))
    )


def downgrade():
    op.drop_table('calendar_feeds')
