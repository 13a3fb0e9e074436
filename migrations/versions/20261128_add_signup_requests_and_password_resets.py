"""Add signup_requests (registrations waiting for their email link) and password_resets (single-use reset links).

Revision ID: 0011a
Revises: 0012a
Create Date: 2026-11-28 11:30:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011a'
down_revision = '0012a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signup_requests',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('token_hash', sa.Text(), nullable=True),
    sa.Column('expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('used_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('email = lower(email)', name=op.f('signup_requests_email_lower_case_check')),
    sa.PrimaryKeyConstraint('id', name=op.f('signup_requests_pkey')),
    sa.UniqueConstraint('token_hash', name=op.f('signup_requests_token_hash_key'))
    )
    op.create_index(op.f('signup_requests_email_idx'), 'signup_requests', ['email'])
    op.create_index(op.f('signup_requests_expires_at_idx'), 'signup_requests', ['expires_at'])
    op.create_table('password_resets',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('expires_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
    sa.Column('used_at', postgresql.TIMESTAMP(timezone=True, precision=3), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('expires_at > created_at', name=op.f('password_resets_expires_after_creation_check')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('password_resets_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('password_resets_pkey')),
    sa.UniqueConstraint('token_hash', name=op.f('password_resets_token_hash_key'))
    )
    op.create_index(op.f('password_resets_expires_at_idx'), 'password_resets', ['expires_at'])
    op.create_index(op.f('password_resets_user_id_idx'), 'password_resets', ['user_id'])


def downgrade():
    op.drop_index(op.f('password_resets_user_id_idx'), table_name='password_resets')
    op.drop_index(op.f('password_resets_expires_at_idx'), table_name='password_resets')
    op.drop_table('password_resets')
    op.drop_index(op.f('signup_requests_expires_at_idx'), table_name='signup_requests')
    op.drop_index(op.f('signup_requests_email_idx'), table_name='signup_requests')
    op.drop_table('signup_requests')
