"""Remember the calendar new events go to: users.default_calendar_id, set in Settings and by each new event's
choice; a calendar that goes leaves it empty (the primary writable calendar is used then).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('default_calendar_id', sa.UUID(), nullable=True))
    op.create_foreign_key(op.f('users_default_calendar_id_fkey'), 'users', 'calendar_connections',
                          ['default_calendar_id'], ['id'], ondelete='SET NULL')


def downgrade():
    op.drop_constraint(op.f('users_default_calendar_id_fkey'), 'users', type_='foreignkey')
    op.drop_column('users', 'default_calendar_id')
