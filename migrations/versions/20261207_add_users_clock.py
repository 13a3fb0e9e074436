"""The user's clock: users.clock_24h, true for 13:00, false for 1:00 pm; NULL until the browser's locale says which
(the first page posts it) or the user picks one in Settings.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('clock_24h', sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column('users', 'clock_24h')
