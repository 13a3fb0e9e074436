"""flask-login's view of our database-backed sessions."""
from __future__ import annotations

from flask import current_app, g, request

from webapp.auth.sessions import load_session, login_cookie_name
from webapp.extensions import db
from webapp.models import User


def load_user_from_cookie(_request) -> User | None:
    token = request.cookies.get(login_cookie_name())
    if not token:
        return None
    found = load_session(db.session, token, idle_days=current_app.config["SESSION_IDLE_DAYS"])
    if found is None:
        return None
    session, user = found
    if db.session.is_modified(session):
        db.session.commit()  # last_seen_at moved on
    g.login_session = session
    return user
