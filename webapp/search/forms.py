from wtforms import IntegerField, SearchField
from wtforms.validators import NumberRange, Optional

from webapp.forms import Form
from webapp.search.engine import QUERY_CHARS

MAX_PAGE = 100


class SearchForm(Form):
    """The query string of /search; a GET form, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Search your calendars", filters=[lambda value: (value or "").strip()[:QUERY_CHARS]])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_PAGE)], default=1)
