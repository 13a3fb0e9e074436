from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.calendar.forms import zone_choices
from webapp.calendar.zones import is_valid_zone

WEEK_START_CHOICES = [
    SelectChoice(weekday, name) for weekday, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), start=1)
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ProfileForm(FlaskForm):
    first_name = StringField("First name", filters=[_strip], validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", filters=[_strip], validators=[Optional(), Length(max=100)])
    time_zone = SelectField("Time zone", validators=[DataRequired("Pick your time zone.")])
    week_start = SelectField("Weeks start on", coerce=int, choices=WEEK_START_CHOICES)
    mark_double_bookings = BooleanField("Mark double bookings (busy events on different calendars at the same time)")

    def __init__(self, *args, current_zone: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices(current_zone)


class BrowserTimeZoneForm(FlaskForm):
    time_zone = StringField(validators=[DataRequired(), Length(max=64)])

    def validate_time_zone(self, field):
        if not is_valid_zone(field.data):
            raise ValidationError("That is not a time zone.")
