from flask_login import login_required

from webapp.calendar import bp
from webapp.htmx import render_page


@bp.route("/")
@login_required
def home():
    return render_page("calendar/home.html", "calendar/_home.html")
