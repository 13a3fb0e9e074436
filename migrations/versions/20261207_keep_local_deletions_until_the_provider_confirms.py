"""Keep a locally deleted event until its provider confirms the deletion: calendar_events.deletion_requested_at
marks the deletion waiting for the push, and deleted_at is set only once the provider has it (before, a deletion
set deleted_at at once, which hid the event and any conflict its push met).

Deletions in flight move over: a plain event or series deleted here whose push has not succeeded (deleted_at set,
PENDING or FAILED) gets deletion_requested_at and loses deleted_at, and the overrides its deletion removed with it
come back (they are covered by their master's deletion now). Instance deletions in flight stay as they were (a
CANCELLED override waiting for its push), which still reaches the provider.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE calendar_events ADD COLUMN deletion_requested_at timestamp(3) with time zone")
    op.execute("""
        UPDATE calendar_events AS child SET deleted_at = NULL
        FROM calendar_events AS master
        WHERE child.parent_event_id = master.id AND master.parent_event_id IS NULL
          AND master.deleted_at IS NOT NULL AND master.sync_status IN ('PENDING', 'FAILED')
          AND child.deleted_at BETWEEN master.deleted_at AND master.deleted_at + interval '1 minute'
    """)
    op.execute("""
        UPDATE calendar_events SET deletion_requested_at = deleted_at, deleted_at = NULL
        WHERE parent_event_id IS NULL AND deleted_at IS NOT NULL AND sync_status IN ('PENDING', 'FAILED')
    """)
    op.execute("ALTER TABLE calendar_events ADD CONSTRAINT calendar_events_deletion_waits_for_provider_check "
               "CHECK (deletion_requested_at IS NULL OR sync_status IN ('PENDING', 'FAILED'))")


def downgrade():
    op.execute("ALTER TABLE calendar_events DROP CONSTRAINT calendar_events_deletion_waits_for_provider_check")
    # The earlier representation: a deleted series took its overrides with it at once; an instance deletion was a
    # CANCELLED override; anything else deleted here was deleted_at.
    op.execute("""
        UPDATE calendar_events AS child SET deleted_at = master.deletion_requested_at
        FROM calendar_events AS master
        WHERE child.parent_event_id = master.id AND master.parent_event_id IS NULL
          AND master.deletion_requested_at IS NOT NULL AND child.deleted_at IS NULL
    """)
    op.execute("UPDATE calendar_events SET status = 'CANCELLED' "
               "WHERE deletion_requested_at IS NOT NULL AND parent_event_id IS NOT NULL")
    op.execute("UPDATE calendar_events SET deleted_at = deletion_requested_at "
               "WHERE deletion_requested_at IS NOT NULL AND parent_event_id IS NULL")
    op.execute("ALTER TABLE calendar_events DROP COLUMN deletion_requested_at")
