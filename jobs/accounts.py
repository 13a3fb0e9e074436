"""Account mail jobs: decide what to send (where no one can time the decision), commit, then send."""
from __future__ import annotations

import uuid

from jobs import job_app
from webapp import mail
from webapp.auth import recovery, signup
from webapp.extensions import db


def send_signup_link(signup_id: str) -> bool:
    with job_app().app_context():
        message = signup.signup_mail(db.session, uuid.UUID(signup_id))
        db.session.commit()
        if message is None:
            return False
        mail.send(message)
        return True


def send_password_reset(email: str, origin: dict | None = None) -> bool:
    app = job_app()
    with app.app_context():
        message = recovery.reset_mail(db.session, email, minutes=app.config["RESET_LINK_MINUTES"], origin=origin)
        db.session.commit()
        if message is None:
            return False
        mail.send(message)
        return True
