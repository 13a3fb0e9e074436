"""Forms for the admin pages. The filters are GET forms (filters live in the URL, so no CSRF token); the invitation
is a POST like any other."""
from __future__ import annotations

from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from webapp.admin.audit_query import AuditFilters
from webapp.auth.forms import email_field
from webapp.forms import Form
from webapp.models import AuditStatus

DATE_MESSAGE = "Use a date like 2026-11-25."


class DayField(DateField):
    """A YYYY-MM-DD date whose error says what would be valid (WTForms' says only "Not a valid date value")."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(DATE_MESSAGE) from None


class GetForm(Form):
    class Meta:
        csrf = False


class AuditFilterForm(GetForm):
    FILTER_NAMES = ("email", "action", "status", "resource_type", "date_from", "date_to", "error_text",
                    "include_archived")

    email = StringField("User email", validators=[Optional(), Length(max=255)])
    action = StringField("Action", validators=[Optional(), Length(max=100)])
    status = SelectField("Status", default="", choices=[SelectChoice("", "Any"), *(
        SelectChoice(status.value, status.value.title()) for status in AuditStatus)])
    resource_type = StringField("Resource type", validators=[Optional(), Length(max=100)])
    date_from = DayField("From (UTC)", validators=[Optional()])
    date_to = DayField("To (UTC)", validators=[Optional()])
    error_text = StringField("Error contains", validators=[Optional(), Length(max=200)])
    include_archived = BooleanField("Include archived")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

    def to_filters(self) -> AuditFilters:
        def clean(value: str | None) -> str | None:
            return (value or "").strip() or None

        action = clean(self.action.data)
        return AuditFilters(
            email=clean(self.email.data),
            action=action.upper() if action else None,
            status=AuditStatus(self.status.data) if self.status.data else None,
            resource_type=clean(self.resource_type.data),
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            error_text=clean(self.error_text.data),
            include_archived=bool(self.include_archived.data),
        )


class UserSearchForm(GetForm):
    q = StringField("Search", validators=[Optional(), Length(max=255)])
    # Page links: the email a page starts after, or ends before.
    after = StringField(validators=[Optional(), Length(max=255)])
    before = StringField(validators=[Optional(), Length(max=255)])

    def validate_before(self, field):
        if field.data and self.after.data:
            raise ValidationError("A page link has either `after` or `before`, not both.")


class InviteForm(Form):
    email = email_field()
