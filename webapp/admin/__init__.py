from flask import Blueprint, abort
from flask_login import current_user

from webapp.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin():
    """One check for the whole blueprint: no per-route decorator to forget."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None
