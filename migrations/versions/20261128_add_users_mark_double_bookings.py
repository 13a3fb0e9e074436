"""Add users.mark_double_bookings: whether the week and day views mark overlapping busy events (on by default).

Revision ID: 0013c
Revises: 0013b
Create Date: 2026-11-27 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013c'
down_revision = '0013b'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('mark_double_bookings', sa.Boolean(), server_default=sa.text('true'), nullable=False))


def downgrade():
    op.drop_column('users', 'mark_double_bookings')
