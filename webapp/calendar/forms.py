from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import UUID, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.calendar.display import describe, description_text, editable_title
from webapp.calendar.editing import ALL_EVENTS, FOLLOWING, THIS_EVENT, EventInput
from webapp.calendar.entries import all_day_dates, by_account
from webapp.calendar.periods import EARLIEST_YEAR, LATEST_YEAR
from webapp.calendar.queries import EventDetails
from webapp.calendar.repeat import FREQUENCIES, WEEKDAYS, Repeat, repeat_from_rule
from webapp.calendar.urls import format_at
from webapp.calendar.zones import UTC_NAME, time_zone_names, zone_or_utc
from webapp.forms import Form, WholeNumberField
from webapp.zones import is_iana_zone

MAX_TITLE_LENGTH = 500
MAX_LOCATION_LENGTH = 500
# Google's own limit is about 8 KB; Outlook's is larger. Past this it is not a calendar note any more.
MAX_DESCRIPTION_LENGTH = 8000
KEEP_RULE = "KEEP"
REPEAT_CHOICES = [SelectChoice("", "Does not repeat"), SelectChoice("DAILY", "Daily"), SelectChoice("WEEKLY", "Weekly"),
                  SelectChoice("MONTHLY", "Monthly"), SelectChoice("YEARLY", "Yearly")]
WEEKDAY_CHOICES = [SelectChoice(day, label)
                   for day, label in zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)]
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]  # browsers send seconds when the input has a step below a minute
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def account_label(account) -> str:
    provider = {"GOOGLE": "Google", "MICROSOFT": "Outlook", "APPLE": "iCloud"}.get(account.provider, account.provider)
    return f"{provider} · {account.email}" if account.email else provider


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _supported_year(form, field):
    if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(f"Pick a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")


def zone_choices(current: str | None = None) -> list[SelectChoice]:
    names = time_zone_names()
    extra = [current] if is_iana_zone(current) and current not in names else []
    return [SelectChoice(name, name.replace("_", " ")) for name in (*extra, *names)]


class EventForm(Form):
    calendar_id = SelectField("Calendar")
    # Required for new events; an existing event may stay untitled, as the providers allow (see __init__).
    title = StringField(
        "Title",
        filters=[_strip],
        validators=[
            Length(max=MAX_TITLE_LENGTH, message=f"Keep the title to {MAX_TITLE_LENGTH} characters or fewer."),
        ],
    )
    is_all_day = BooleanField("All day")
    start_date = DateField("Starts", validators=[InputRequired("Pick the day it starts."), _supported_year])
    start_time = TimeField("Start time", format=TIME_FORMATS, validators=[Optional()])
    end_date = DateField("Ends", validators=[InputRequired("Pick the day it ends."), _supported_year])
    end_time = TimeField("End time", format=TIME_FORMATS, validators=[Optional()])
    time_zone = SelectField("Time zone")
    location = StringField(
        "Location",
        filters=[_strip],
        validators=[Length(max=MAX_LOCATION_LENGTH, message=f"Keep it to {MAX_LOCATION_LENGTH} characters.")],
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=MAX_DESCRIPTION_LENGTH, message=f"Keep it to {MAX_DESCRIPTION_LENGTH} characters.")],
    )
    repeat = SelectField("Repeat", choices=REPEAT_CHOICES, default="")
    interval = WholeNumberField(
        "Every", default=1, validators=[Optional(), NumberRange(min=1, max=99, message="Use a number from 1 to 99.")]
    )
    weekdays = SelectMultipleField(
        "On", choices=WEEKDAY_CHOICES, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    ends = SelectField("Ends", default="never", choices=[
        SelectChoice("never", "Never"), SelectChoice("until", "On a date"), SelectChoice("count", "After")])
    until = DateField("Last day", validators=[Optional(), _supported_year])
    count = WholeNumberField(
        "Times", validators=[Optional(), NumberRange(min=1, max=999, message="Use a number from 1 to 999.")]
    )
    # Where the page was (week/day/month/agenda), which instances the edit applies to, and which instance.
    view = HiddenField()
    scope = HiddenField()
    at = HiddenField()
    # The clock the times are typed on: the viewer's; the event keeps its own zone (time_zone) when it differs.
    input_zone = HiddenField()

    def __init__(self, *args, calendars=(), current_zone: str | None = None, custom_rule: str | None = None,
                 title_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.title_required = title_required
        # Grouped by account ("Google · ada@example.com"), as the sidebar shows them.
        self.calendar_id.choices = [
            SelectChoice(str(calendar.id), calendar.name, optgroup=account_label(account))
            for account in by_account(list(calendars)) for calendar in account.calendars]
        self.time_zone.choices = zone_choices(current_zone)
        if custom_rule:
            self.repeat.choices = [SelectChoice(KEEP_RULE, f"As now: {custom_rule}"), *REPEAT_CHOICES]

    @property
    def is_single_instance(self) -> bool:
        """Editing one instance of a series: it cannot get a repeat of its own."""
        return self.scope.data == THIS_EVENT

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.title_required and not self.title.data and not self.title.errors:
            self.title.errors.append("Give the event a title.")
            valid = False
        if (self.scope.data or "") not in ("", THIS_EVENT, FOLLOWING, ALL_EVENTS):
            self.form_errors.append("Choose whether to change this event, this and the following ones, or all.")
            valid = False
        if not self.is_all_day.data:
            for field, message in ((self.start_time, "Pick the time it starts."),
                                   (self.end_time, "Pick the time it ends.")):
                if field.data is None and not field.errors:
                    field.errors.append(message)
                    valid = False
        return valid and self._check_order() and self._check_repeat()

    def _check_order(self) -> bool:
        if self.is_all_day.data:
            if self.end_date.data < self.start_date.data:
                self.end_date.errors.append("An all-day event ends on or after the day it starts.")
                return False
            return True
        start, end = self._instants()
        if end <= start:
            self.end_time.errors.append("The event must end after it starts.")
            return False
        return True

    def _check_repeat(self) -> bool:
        if self.is_single_instance or self.repeat.data not in FREQUENCIES:
            return True
        if self.ends.data == "until":
            if self.until.data is None:
                self.until.errors.append("Pick the last day it repeats on.")
                return False
            if self.until.data < self.start_date.data:
                self.until.errors.append("The last day must be on or after the first.")
                return False
        if self.ends.data == "count" and self.count.data is None:
            self.count.errors.append("Say how many times it happens.")
            return False
        return True

    def _instants(self) -> tuple[datetime, datetime]:
        if self.is_all_day.data:
            # All-day events are dates: 00:00 UTC of the first day to 00:00 UTC after the last, whatever the zone.
            return (datetime.combine(self.start_date.data, time(), UTC),
                    datetime.combine(self.end_date.data + timedelta(days=1), time(), UTC))
        zone = ZoneInfo(self.input_zone.data if is_iana_zone(self.input_zone.data) else self.time_zone.data)
        return (datetime.combine(self.start_date.data, self.start_time.data, zone).astimezone(UTC),
                datetime.combine(self.end_date.data, self.end_time.data, zone).astimezone(UTC))

    def event_input(self) -> EventInput:
        start, end = self._instants()
        return EventInput(
            title=self.title.data,
            is_all_day=self.is_all_day.data,
            start=start,
            end=end,
            timezone=self.time_zone.data,
            location=self.location.data or None,
            description=self.description.data or None,
            repeat=None if self.is_single_instance else self._repeat(),
            keep_rule=not self.is_single_instance and self.repeat.data == KEEP_RULE,
        )

    def _repeat(self) -> Repeat | None:
        if self.repeat.data not in FREQUENCIES:
            return None
        weekdays = tuple(day for day in WEEKDAYS if day in (self.weekdays.data or ()))
        return Repeat(
            frequency=self.repeat.data,
            interval=self.interval.data or 1,
            weekdays=weekdays if self.repeat.data == "WEEKLY" else (),
            until=self.until.data if self.ends.data == "until" else None,
            count=self.count.data if self.ends.data == "count" else None,
        )


def event_form_data(start: datetime, end: datetime, is_all_day: bool, zone_name: str, **fields) -> dict:
    """Initial form values for an event shown on its own clock (all-day events by their dates)."""
    if is_all_day:
        first, last = all_day_dates(start, end)
        return {"start_date": first, "end_date": last, "is_all_day": True, "time_zone": zone_name, **fields}
    zone = ZoneInfo(zone_name)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return {
        "start_date": local_start.date(), "start_time": local_start.time(), "end_date": local_end.date(),
        "end_time": local_end.time(), "is_all_day": False, "time_zone": zone_name, **fields,
    }


def new_event_form_data(zone_name: str | None, start_text: str | None, kind: str, now: datetime,
                        end_text: str | None = None) -> dict:
    """Initial values for a new event: the clicked slot or dragged range (local times, or a day for an all-day
    event), else the next full hour; on the user's clock."""
    zone = zone_or_utc(zone_name)
    zone_name = zone.key
    wanted = parse_new_event_start(start_text)
    if isinstance(wanted, datetime):
        start = wanted.replace(tzinfo=zone).astimezone(UTC)
        until = parse_new_event_start(end_text)
        end = until.replace(tzinfo=zone).astimezone(UTC) if isinstance(until, datetime) else None
        if end is None or end <= start:
            end = start + timedelta(hours=1)
        return event_form_data(start, end, False, zone_name, view=kind)
    if isinstance(wanted, date):
        start = datetime.combine(wanted, time(), UTC)
        return event_form_data(start, start + timedelta(days=1), True, zone_name, view=kind)
    next_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return event_form_data(next_hour, next_hour + timedelta(hours=1), False, zone_name, view=kind)


def parse_new_event_start(value: str | None) -> date | datetime | None:
    """The ?start= of a "new event" link: a day (all-day) or a local date and time. None when absent or bad."""
    if not value:
        return None
    try:
        wanted = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None
    return wanted if EARLIEST_YEAR <= wanted.year <= LATEST_YEAR else None


def _local_minute(form, field):
    if field.data is not None and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(f"Pick a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")


class MoveEventForm(Form):
    """A dragged (or keyboard-moved) event: its new start and end on the viewer's clock, and which page it was on."""

    start = DateTimeLocalField(format=LOCAL_FORMATS, validators=[InputRequired(), _local_minute])
    end = DateTimeLocalField(format=LOCAL_FORMATS, validators=[InputRequired(), _local_minute])
    at = HiddenField()
    view = HiddenField()
    anchor = HiddenField()

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The event must end after it starts.")


class GoToDateForm(Form):
    class Meta:
        csrf = False  # a GET form: going to a date changes nothing

    date = DateField(validators=[InputRequired(), _supported_year])
    view = HiddenField()


class DeleteEventForm(Form):
    scope = HiddenField()
    at = HiddenField()
    view = HiddenField()


class QuickCreateForm(Form):
    """The quick-create popover: one line of text (read by webapp.calendar.quick), the slot it was typed in (local
    times on the viewer's clock) and the calendar."""

    title = StringField("Title", filters=[_strip], validators=[
        InputRequired("Give the event a title."),
        Length(max=MAX_TITLE_LENGTH, message=f"Keep the title to {MAX_TITLE_LENGTH} characters or fewer.")])
    calendar_id = SelectField("Calendar")
    start = DateTimeLocalField(format=LOCAL_FORMATS, validators=[InputRequired(), _local_minute])
    end = DateTimeLocalField(format=LOCAL_FORMATS, validators=[InputRequired(), _local_minute])
    view = HiddenField()

    def __init__(self, *args, calendars=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id.choices = [
            SelectChoice(str(calendar.id), calendar.name, optgroup=account_label(account))
            for account in by_account(list(calendars)) for calendar in account.calendars]

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The event must end after it starts.")


class RespondForm(Form):
    response = SelectField(choices=[SelectChoice("accepted", "Yes"), SelectChoice("declined", "No"),
                                    SelectChoice("tentative", "Maybe")])
    at = HiddenField()
    view = HiddenField()


class UndoForm(Form):
    token = HiddenField(validators=[InputRequired()])
    view = HiddenField()
    anchor = HiddenField()


class QuietForm(Form):
    """"Don't flag this series": the other side of a double booking (its series master, or the event)."""

    other = HiddenField(validators=[InputRequired(), UUID()])
    at = HiddenField()
    view = HiddenField()


class VisibilityForm(Form):
    visible = SelectField(choices=[SelectChoice("1", "Show"), SelectChoice("0", "Hide")])


def edit_form_data(details: EventDetails, scope: str, kind: str,
                   viewer_zone: str | None = None) -> tuple[dict, str | None]:
    """Initial values for editing an event, one instance or its whole series, its times on the viewer's clock (the
    event keeps its own zone); and, when the series' stored rule says more than the simple repeat fields can, its
    description (the form then offers to keep it)."""
    if scope == ALL_EVENTS:
        source, start, end = details.series, details.series.start_time, details.series.end_time
    elif scope == FOLLOWING and details.series is not None:  # the series' details and repeat, from here on
        source, start, end = details.series, details.start, details.end
    else:
        source, start, end = details.event, details.start, details.end
    zone_name = source.timezone if is_iana_zone(source.timezone) else UTC_NAME
    shown_zone = viewer_zone if is_iana_zone(viewer_zone) else zone_name
    data = event_form_data(
        start, end, source.is_all_day, shown_zone, input_zone=shown_zone,
        title=editable_title(source.title), location=source.location or "",
        description=description_text(source.description),  # edited as plain text, never tags
        view=kind, scope=scope, at=format_at(details.original_start) if details.is_generated_instance else "",
    )
    data["time_zone"] = zone_name
    if scope == THIS_EVENT or not source.recurrence_rule:
        return data, None
    rule_zone = ZoneInfo(UTC_NAME if source.is_all_day else zone_name)
    repeat = repeat_from_rule(source.recurrence_rule, rule_zone)
    if repeat is None:
        data["repeat"] = KEEP_RULE
        return data, describe(source.recurrence_rule, start.astimezone(rule_zone))
    data.update(
        repeat=repeat.frequency,
        interval=repeat.interval,
        weekdays=list(repeat.weekdays) or [WEEKDAYS[start.astimezone(rule_zone).weekday()]],
        ends="count" if repeat.count else "until" if repeat.until else "never",
        until=repeat.until,
        count=repeat.count,
    )
    return data, None
