"""Move the search vector out of calendar_events into event_search, so a sync's bulk insert no longer computes it
per row: event_search (one row per event: its calendar and vector, GIN-indexed per calendar as before) and
event_search_pending (events whose vector waits, left there by a sync's large writes).

Two triggers keep event_search current for every write to calendar_events (the web's edits, pushes,
conflict resolutions, small syncs): inserted events (one statement per INSERT) and updated events whose title,
place, guests, description or calendar changed get their vector at once. A transaction that set
`almanac.defer_search` to 'on' (a sync storing a large page: webapp.sync.search_index.defer_indexing) only lists those
events in event_search_pending; webapp.sync.search_index.index_pending computes their vectors right after the sync, or
in a follow-up job. The vector is the one migration 0013a generated, now named `almanac_event_search_vector`.

event_search_pending has no foreign key: a check per listed row is what the deferral saves; entries whose event
was deleted outright are forgotten by the sweep's catch-up.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 22:40:00
"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

# Migration 0013a's generated column, unchanged: weights A title, B place, C guests, D description, and the "~"
# beginnings of the words of the first three.
VECTOR_OF = """
    setweight(to_tsvector('simple'::regconfig, almanac_unaccent(title)), 'A')
    || almanac_prefixes(title, 'A')
    || setweight(to_tsvector('simple'::regconfig, almanac_unaccent(coalesce(location, ''))), 'B')
    || almanac_prefixes(location, 'B')
    || setweight(to_tsvector('simple'::regconfig, almanac_unaccent(almanac_attendee_text(attendees))), 'C')
    || almanac_prefixes(almanac_attendee_text(attendees), 'C')
    || setweight(to_tsvector('simple'::regconfig, almanac_unaccent(left(coalesce(description, ''), 20000))), 'D')
"""


def upgrade():
    op.execute(f"""
        CREATE FUNCTION almanac_event_search_vector(title varchar, location varchar, attendees jsonb,
                                                    description text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN {VECTOR_OF}
    """)
    op.execute("""
        CREATE TABLE event_search (
            event_id uuid PRIMARY KEY REFERENCES calendar_events (id) ON DELETE CASCADE,
            calendar_connection_id uuid NOT NULL,
            search_vector tsvector NOT NULL
        )
    """)
    op.execute("""
        INSERT INTO event_search (event_id, calendar_connection_id, search_vector)
        SELECT id, calendar_connection_id, search_vector FROM calendar_events
    """)
    op.execute("CREATE INDEX event_search_idx ON event_search USING gin (calendar_connection_id, search_vector)")
    op.execute("""
        CREATE TABLE event_search_pending (
            event_id uuid PRIMARY KEY,
            calendar_connection_id uuid NOT NULL
        )
    """)
    op.execute("CREATE INDEX event_search_pending_calendar_connection_id_idx "
               "ON event_search_pending (calendar_connection_id)")
    op.execute("DROP INDEX calendar_events_search_idx")
    op.execute("ALTER TABLE calendar_events DROP COLUMN search_vector")
    # Inserts: one statement per INSERT, over the rows it inserted. Updates: only rows whose searched text (or
    # calendar) changed, which most updates (a sync status, a soft deletion) do not touch.
    op.execute("""
        CREATE FUNCTION almanac_index_inserted_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('almanac.defer_search', true) = 'on' THEN
                INSERT INTO event_search_pending (event_id, calendar_connection_id)
                SELECT id, calendar_connection_id FROM inserted_rows
                ON CONFLICT (event_id) DO NOTHING;
            ELSE
                INSERT INTO event_search (event_id, calendar_connection_id, search_vector)
                SELECT id, calendar_connection_id,
                       almanac_event_search_vector(title, location, attendees, description)
                FROM inserted_rows
                ON CONFLICT (event_id) DO UPDATE
                SET calendar_connection_id = excluded.calendar_connection_id, search_vector = excluded.search_vector;
            END IF;
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE FUNCTION almanac_index_updated_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('almanac.defer_search', true) = 'on' THEN
                INSERT INTO event_search_pending (event_id, calendar_connection_id)
                VALUES (NEW.id, NEW.calendar_connection_id)
                ON CONFLICT (event_id) DO NOTHING;
            ELSE
                INSERT INTO event_search (event_id, calendar_connection_id, search_vector)
                VALUES (NEW.id, NEW.calendar_connection_id,
                        almanac_event_search_vector(NEW.title, NEW.location, NEW.attendees, NEW.description))
                ON CONFLICT (event_id) DO UPDATE
                SET calendar_connection_id = excluded.calendar_connection_id, search_vector = excluded.search_vector;
            END IF;
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER calendar_events_index_inserted AFTER INSERT ON calendar_events
        REFERENCING NEW TABLE AS inserted_rows
        FOR EACH STATEMENT EXECUTE FUNCTION almanac_index_inserted_events()
    """)
    op.execute("""
        CREATE TRIGGER calendar_events_index_updated AFTER UPDATE ON calendar_events
        FOR EACH ROW
        WHEN ((OLD.title, OLD.location, OLD.attendees, OLD.description, OLD.calendar_connection_id)
              IS DISTINCT FROM (NEW.title, NEW.location, NEW.attendees, NEW.description, NEW.calendar_connection_id))
        EXECUTE FUNCTION almanac_index_updated_event()
    """)


def downgrade():
    op.execute("DROP TRIGGER calendar_events_index_updated ON calendar_events")
    op.execute("DROP TRIGGER calendar_events_index_inserted ON calendar_events")
    op.execute("DROP FUNCTION almanac_index_updated_event()")
    op.execute("DROP FUNCTION almanac_index_inserted_events()")
    op.execute(f"ALTER TABLE calendar_events ADD COLUMN search_vector tsvector "
               f"GENERATED ALWAYS AS ({VECTOR_OF}) STORED")
    op.execute("CREATE INDEX calendar_events_search_idx ON calendar_events "
               "USING gin (calendar_connection_id, search_vector)")
    op.execute("DROP TABLE event_search_pending")
    op.execute("DROP TABLE event_search")
    op.execute("DROP FUNCTION almanac_event_search_vector(varchar, varchar, jsonb, text)")
