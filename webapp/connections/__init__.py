from flask import Blueprint

bp = Blueprint("connections", __name__, url_prefix="/connections")
