"""Add the user's working hours (minutes after midnight), where the time grid opens.

Revision ID: 0012a
Revises: 0009a
Create Date: 2026-11-28 11:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012a'
down_revision = '0009a'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('work_day_start', sa.SmallInteger(), server_default=sa.text('480'), nullable=False))
    op.add_column('users', sa.Column('work_day_end', sa.SmallInteger(), server_default=sa.text('1080'), nullable=False))
    op.create_check_constraint(op.f('users_working_hours_in_order_check'), 'users',
                               'work_day_start >= 0 AND work_day_start < work_day_end AND work_day_end <= 1440')


def downgrade():
    op.drop_constraint(op.f('users_working_hours_in_order_check'), 'users', type_='check')
    op.drop_column('users', 'work_day_end')
    op.drop_column('users', 'work_day_start')
