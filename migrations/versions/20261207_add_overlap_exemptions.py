"""Add overlap_exemptions: pairs of series (or events) a user told Almanac not to flag as double bookings.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:05:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('overlap_exemptions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('first_event_id', sa.UUID(), nullable=False),
    sa.Column('second_event_id', sa.UUID(), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('first_event_id < second_event_id', name=op.f('overlap_exemptions_pair_in_order')),
    sa.ForeignKeyConstraint(['first_event_id'], ['calendar_events.id'], name=op.f('overlap_exemptions_first_event_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_event_id'], ['calendar_events.id'], name=op.f('overlap_exemptions_second_event_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('overlap_exemptions_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('overlap_exemptions_pkey')),
    sa.UniqueConstraint('user_id', 'first_event_id', 'second_event_id', name=op.f('overlap_exemptions_user_id_first_event_id_second_event_id_key'))
    )
    op.create_index(op.f('overlap_exemptions_first_event_id_idx'), 'overlap_exemptions', ['first_event_id'])
    op.create_index(op.f('overlap_exemptions_second_event_id_idx'), 'overlap_exemptions', ['second_event_id'])


def downgrade():
    op.drop_table('overlap_exemptions')
