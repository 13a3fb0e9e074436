"""Feed tests use the calendar factories and the signed-in client."""
from tests.calendar.conftest import calendar, csrf, signed_in, user  # noqa: F401
