"""Where Google and Microsoft send change notifications: one endpoint per provider under PUBLIC_URL. No session, no
CSRF (the providers have neither); each notification must name a channel we made and carry its secret."""
from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
