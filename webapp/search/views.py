"""/search: every calendar of the user, searched as they type."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.calendar.pages import Viewer
from webapp.extensions import db
from webapp.htmx import is_partial_request, render_page
from webapp.search import bp, presentation
from webapp.search.engine import search_events
from webapp.search.forms import SearchForm


@bp.route("/search")
@login_required
def results():
    form = SearchForm(request.args)
    if not form.validate():
        abort(400, description="Pages of results are numbered from 1 to 100.")
    now = datetime.now(UTC)
    found = search_events(db.session, current_user.id, form.q.data, now, page=form.page.data or 1)
    return render_page("search/search.html", "search/_search.html", form=form, found=found,
                       shown=presentation.shown(found, Viewer.of(current_user).zone, now))


SUGGESTIONS = 6


@bp.route("/search/suggest")
@login_required
def suggest():
    """The top bar's dropdown while typing (htmx): the first few results, each opening its week with the event's
    panel; Enter in the box opens the full list (/search)."""
    form = SearchForm(request.args)
    if not is_partial_request() or not form.validate():
        return redirect(url_for("search.results", q=form.q.data or None), 303)
    now = datetime.now(UTC)
    found = search_events(db.session, current_user.id, form.q.data, now) if form.q.data else None
    shown = presentation.shown(found, Viewer.of(current_user).zone, now)[:SUGGESTIONS] if found else []
    response = make_response(render_template("search/_suggestions.html", query=form.q.data, shown=shown))
    response.vary.add("HX-Request")
    return response
