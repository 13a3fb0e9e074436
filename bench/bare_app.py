"""The yardstick for bench/pages.py: a bare Flask page doing two indexed queries (the session joined to its user,
then the user's calendars) and rendering a small template, served by gunicorn with the Procfile's settings."""
from __future__ import annotations

import hashlib
import os

from flask import Flask, abort, render_template_string, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["BARE_DATABASE_URL"], pool_size=4)
PAGE = """<!doctype html><title>{{ email }}</title><h1>{{ email }}</h1>
<ul>{% for calendar in calendars %}<li>{{ calendar.calendar_name }}</li>{% endfor %}</ul>"""


@app.get("/calendar/week/<day>")
def week(day: str):
    token = request.cookies.get("almanac_session", "")
    with engine.connect() as connection:
        user = connection.execute(text(
            "SELECT u.id, u.email FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = :hash AND s.expires_at > now()"),
            {"hash": hashlib.sha256(token.encode()).hexdigest()}).first()
        if user is None:
            abort(401)
        calendars = connection.execute(text(
            "SELECT id, calendar_name FROM calendar_connections WHERE user_id = :user AND deleted_at IS NULL"),
            {"user": user.id}).all()
    return render_template_string(PAGE, email=user.email, calendars=calendars)
