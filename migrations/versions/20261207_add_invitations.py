"""Add invitations: single-use links an admin makes for one email (SIGNUP=invite), stored as a SHA-256 of the token.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invitations',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('invited_by_id', sa.UUID(), nullable=True),
        sa.Column('expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
        sa.Column('used_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
        sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint('email = lower(email)', name=op.f('invitations_email_lower_case_check')),
        sa.CheckConstraint('expires_at > created_at', name=op.f('invitations_expires_after_creation_check')),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('invitations_invited_by_id_fkey'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('invitations_pkey')),
        sa.UniqueConstraint('token_hash', name=op.f('invitations_token_hash_key')),
    )
    op.create_index(op.f('invitations_email_idx'), 'invitations', ['email'])
    op.create_index(op.f('invitations_expires_at_idx'), 'invitations', ['expires_at'])
    op.create_index(op.f('invitations_invited_by_id_idx'), 'invitations', ['invited_by_id'])


def downgrade():
    op.drop_index(op.f('invitations_invited_by_id_idx'), table_name='invitations')
    op.drop_index(op.f('invitations_expires_at_idx'), table_name='invitations')
    op.drop_index(op.f('invitations_email_idx'), table_name='invitations')
    op.drop_table('invitations')
