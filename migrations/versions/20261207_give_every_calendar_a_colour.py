"""Give every calendar a stored colour: calendars connected without one (the provider sent none) take Almanac's
palette colours in order, skipping those the user's other calendars already have, so the colour the pickers show
is the one the cards are drawn in. From now on connecting stores one for every calendar.

The downgrade leaves the colours: the column is unchanged, and a colour is as good as none to the older code.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# webapp.calendar.colours.DEFAULT_PALETTE as it was when this ran.
PALETTE = ("#1a73e8", "#0b8043", "#e37400", "#8e24aa", "#d50000", "#f6bf26", "#795548", "#7cb342", "#b39ddb",
           "#9e69af", "#00acc1")


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, user_id, calendar_color FROM calendar_connections ORDER BY user_id, created_at, id")).all()
    taken: dict = {}
    for row in rows:
        if row.calendar_color:
            taken.setdefault(row.user_id, set()).add(row.calendar_color)
    for row in rows:
        if row.calendar_color:
            continue
        used = taken.setdefault(row.user_id, set())
        free = [colour for colour in PALETTE if colour not in used]
        colour = free[0] if free else PALETTE[len(used) % len(PALETTE)]
        used.add(colour)
        connection.execute(sa.text("UPDATE calendar_connections SET calendar_color = :colour WHERE id = :id"),
                           {"colour": colour, "id": row.id})


def downgrade():
    pass
