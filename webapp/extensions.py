"""Extension objects, created unbound; `create_app` binds them."""
from __future__ import annotations

from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis

from webapp.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def redis_client() -> Redis:
    """The app's Redis connection, created once per app."""
    client = current_app.extensions.get("almanac_redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"])
        current_app.extensions["almanac_redis"] = client
    return client
