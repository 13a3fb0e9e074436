"""Add audit_logs_archive (same columns as audit_logs) and health_metric_samples for the maintenance jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:05:12.114730
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_logs_archive',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('resource_type', sa.String(length=100), nullable=True),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    # The type already exists: audit_logs created it.
    sa.Column('status', postgresql.ENUM('SUCCESS', 'FAILURE', name='audit_status', create_type=False), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('audit_logs_archive_user_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('audit_logs_archive_pkey'))
    )
    op.create_index(op.f('audit_logs_archive_action_idx'), 'audit_logs_archive', ['action'])
    op.create_index('audit_logs_archive_created_at_id_idx', 'audit_logs_archive', ['created_at', 'id'])
    op.create_index(op.f('audit_logs_archive_user_id_idx'), 'audit_logs_archive', ['user_id'])
    op.create_table('health_metric_samples',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('recorded_at', postgresql.TIMESTAMP(timezone=True, precision=3), server_default=sa.text('now()'), nullable=False),
    sa.Column('metric', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=100), server_default='', nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('health_metric_samples_pkey'))
    )
    op.create_index(op.f('health_metric_samples_metric_recorded_at_idx'), 'health_metric_samples', ['metric', 'recorded_at'])
    op.create_index(op.f('health_metric_samples_recorded_at_idx'), 'health_metric_samples', ['recorded_at'])


def downgrade():
    op.drop_index(op.f('health_metric_samples_recorded_at_idx'), table_name='health_metric_samples')
    op.drop_index(op.f('health_metric_samples_metric_recorded_at_idx'), table_name='health_metric_samples')
    op.drop_table('health_metric_samples')
    op.drop_index(op.f('audit_logs_archive_user_id_idx'), table_name='audit_logs_archive')
    op.drop_index('audit_logs_archive_created_at_id_idx', table_name='audit_logs_archive')
    op.drop_index(op.f('audit_logs_archive_action_idx'), table_name='audit_logs_archive')
    op.drop_table('audit_logs_archive')
