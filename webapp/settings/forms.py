from wtforms import BooleanField, PasswordField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from webapp.calendar.entries import by_account
from webapp.calendar.forms import TIME_FORMATS, account_label, zone_choices
from webapp.calendar.preferences import minutes_of
from webapp.forms import Form
from webapp.zones import is_iana_zone

WEEK_START_CHOICES = [
    SelectChoice(weekday, name) for weekday, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), start=1)
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ProfileForm(Form):
    first_name = StringField("First name", filters=[_strip], validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", filters=[_strip], validators=[Optional(), Length(max=100)])
    time_zone = SelectField("Time zone", validators=[DataRequired("Pick your time zone.")])
    week_start = SelectField("Weeks start on", coerce=int, choices=WEEK_START_CHOICES)
    work_day_start = TimeField("Working day starts", format=TIME_FORMATS,
                               validators=[InputRequired("Say when your working day starts.")])
    work_day_end = TimeField("Working day ends", format=TIME_FORMATS,
                             validators=[InputRequired("Say when your working day ends.")])
    mark_double_bookings = BooleanField("Mark double bookings (busy events on different calendars at the same time)")
    default_calendar_id = SelectField("New events go to", validate_choice=False)
    clock = SelectField("Clock", choices=[SelectChoice("24", "24-hour (13:00)"),
                                          SelectChoice("12", "12-hour (1:00 pm)")])

    def __init__(self, *args, current_zone: str | None = None, calendars=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices(current_zone)
        self.default_calendar_id.choices = [
            SelectChoice(str(calendar.id), calendar.name, optgroup=account_label(account))
            for account in by_account(list(calendars)) for calendar in account.calendars]
        self.writable_ids = {str(calendar.id) for calendar in calendars}

    def validate_default_calendar_id(self, field):
        if field.data and field.data not in self.writable_ids:
            raise ValidationError("Pick one of your calendars that takes new events.")

    def validate_work_day_end(self, field):
        start = self.work_day_start.data
        if start is not None and field.data is not None and minutes_of(field.data) <= minutes_of(start):
            raise ValidationError("The working day must end after it starts.")


class BrowserTimeZoneForm(Form):
    time_zone = StringField(validators=[DataRequired(), Length(max=64)])

    def validate_time_zone(self, field):
        if not is_iana_zone(field.data):
            raise ValidationError("That is not a time zone.")


class DeleteAccountForm(Form):
    password = PasswordField("Your password", validators=[DataRequired("Type your password to confirm.")])
    understood = BooleanField("I understand that my account, calendars and events in Almanac are deleted for good",
                              validators=[DataRequired("Tick this box to confirm.")])
