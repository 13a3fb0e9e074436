"""Add event search: unaccent, pg_trgm and btree_gin; a generated tsvector column; GIN indexes per calendar.

`unaccent()` is only STABLE (it looks its dictionary up through search_path), so a generated column cannot call
it. `almanac_unaccent` names the function and the dictionary by schema and is declared IMMUTABLE, which is true
for as long as nobody edits unaccent.rules on the server.

Both indexes lead with calendar_connection_id (btree_gin): a search is always within one user's calendars, and
GIN intersects the calendar's short posting list with the words' long ones instead of reading every match
in the table.

Revision ID: 0013a
Revises: 0011a
Create Date: 2026-11-26 10:00:00
"""
from alembic import op

revision = '0013a'
down_revision = '0011a'
branch_labels = None
depends_on = None

EXTENSIONS = ("unaccent", "pg_trgm", "btree_gin")


def upgrade():
    for extension in EXTENSIONS:
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    # Wherever the extension lives (it may have been installed before us, in another schema).
    schema = op.get_bind().exec_driver_sql(
        "SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension WHERE extname = 'unaccent'"
    ).scalar_one()
    op.execute(f"""
        CREATE FUNCTION almanac_unaccent(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        RETURN {schema}.unaccent('{schema}.unaccent'::regdictionary, value)
    """)
    # Names and addresses of the guests; an address also as its words, so "contoso" finds ann@contoso.com.
    op.execute("""
        CREATE FUNCTION almanac_attendee_text(attendees jsonb) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN (
            SELECT coalesce(string_agg(
                coalesce(guest ->> 'name', '') || ' ' || coalesce(guest ->> 'email', '') || ' '
                || translate(coalesce(guest ->> 'email', ''), '@.', '  '), ' '), '')
            FROM jsonb_array_elements(
                CASE jsonb_typeof(attendees) WHEN 'array' THEN attendees ELSE '[]'::jsonb END) AS guest
        )
    """)
    # The beginnings (3 to 15 letters) of each word as lexemes marked "~", with the field's weight: "~budg" for
    # "budget". The search box matches the word being typed against them exactly; a prefix query (budg:*) would
    # make the index collect every row of every user with such a word before narrowing to one calendar. Built as
    # tsvector text because only lexemes with a position carry a weight (":" and "1" apart, or SQLAlchemy would read
    # ":1" as a parameter).
    op.execute(r"""
        CREATE FUNCTION almanac_prefixes(value text, weight text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN (
            SELECT coalesce(string_agg(
                '''~' || replace(replace(left(word.lexeme, size), '\', '\\'), '''', '''''') || ''':' || '1' || weight,
                ' '), '')::tsvector
            FROM unnest(to_tsvector('simple'::regconfig, almanac_unaccent(coalesce(value, '')))) AS word
            CROSS JOIN LATERAL generate_series(3, least(length(word.lexeme) - 1, 15)) AS size
        )
    """)
    op.execute("""
        ALTER TABLE calendar_events ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('simple'::regconfig, almanac_unaccent(title)), 'A')
            || almanac_prefixes(title, 'A')
            || setweight(to_tsvector('simple'::regconfig, almanac_unaccent(coalesce(location, ''))), 'B')
            || almanac_prefixes(location, 'B')
            || setweight(to_tsvector('simple'::regconfig, almanac_unaccent(almanac_attendee_text(attendees))), 'C')
            || almanac_prefixes(almanac_attendee_text(attendees), 'C')
            || setweight(to_tsvector('simple'::regconfig,
                                     almanac_unaccent(left(coalesce(description, ''), 20000))), 'D')
        ) STORED
    """)
    # What partial words are looked for in: title and location, lower case, without accents.
    op.execute("""
        CREATE FUNCTION almanac_search_text(title varchar, location varchar) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN lower(almanac_unaccent(coalesce(title, '') || ' ' || coalesce(location, '')))
    """)
    op.execute("""
        CREATE INDEX calendar_events_search_idx ON calendar_events
        USING gin (calendar_connection_id, search_vector)
    """)
    op.execute("""
        CREATE INDEX calendar_events_search_text_trgm_idx ON calendar_events
        USING gin (calendar_connection_id, almanac_search_text(title, location) gin_trgm_ops)
    """)
    # The planner estimates a trigram condition by trying it on this column's statistics: a short list keeps
    # planning a search at a couple of milliseconds instead of ten.
    op.execute("ALTER INDEX calendar_events_search_text_trgm_idx ALTER COLUMN 2 SET STATISTICS 10")


def downgrade():
    op.execute("DROP INDEX calendar_events_search_text_trgm_idx")
    op.execute("DROP INDEX calendar_events_search_idx")
    op.execute("ALTER TABLE calendar_events DROP COLUMN search_vector")
    op.execute("DROP FUNCTION almanac_search_text(varchar, varchar)")
    op.execute("DROP FUNCTION almanac_prefixes(text, text)")
    op.execute("DROP FUNCTION almanac_attendee_text(jsonb)")
    op.execute("DROP FUNCTION almanac_unaccent(text)")
    # The extensions stay: other objects (or other databases' habits) may use them, and they hold no data.
