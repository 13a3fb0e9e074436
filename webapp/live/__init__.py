"""Open calendar tabs keep themselves current: they poll the user's change stamp (webapp.changes), and a tab brought
back to the front asks for a sync of its calendars (webapp.sync.viewing)."""
from flask import Blueprint

bp = Blueprint("live", __name__, url_prefix="/live")
