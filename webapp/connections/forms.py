from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from webapp.auth.forms import strip
from webapp.forms import Form


class AppleConnectForm(Form):
    apple_id = EmailField("Apple ID email", filters=[strip],
                          validators=[DataRequired(), Email(check_deliverability=False), Length(max=255)])
    app_password = PasswordField(
        "App-specific password",
        filters=[strip],
        validators=[DataRequired(), Length(max=64)],
        description="Create one at appleid.apple.com → Sign-In and Security → App-Specific Passwords.",
    )


class ColorForm(Form):
    color = StringField("Colour", filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
                        validators=[DataRequired(), Regexp(r"^#[0-9a-f]{6}$", message="Pick a colour like #1a73e8.")])


class CalDavConnectForm(Form):
    server = StringField(
        "Server address", filters=[strip], validators=[DataRequired(), Length(max=500)],
        description="Your provider's name for its CalDAV server: a host such as fastmail.com or "
                    "posteo.de, or a full address such as https://cloud.example.org/remote.php/dav.")
    username = StringField("User name", filters=[strip], validators=[DataRequired(), Length(max=255)])
    password = PasswordField(
        "Password", filters=[strip], validators=[DataRequired(), Length(max=255)],
        description="Use an app password if your provider offers them (Fastmail, mailbox.org, Nextcloud, Zoho do): "
                    "it lets Almanac in to your calendars only, and you can revoke it there at any time.")


REFRESH_CHOICES = [SelectChoice(minutes, words) for minutes, words in (
    (15, "Every 15 minutes"), (30, "Every 30 minutes"), (60, "Every hour"), (180, "Every 3 hours"),
    (720, "Every 12 hours"), (1440, "Once a day"))]


class FeedSubscriptionForm(Form):
    url = StringField("Feed address", filters=[strip], validators=[DataRequired(), Length(max=1024)],
                      description="An https://, http:// or webcal:// address of an iCalendar (.ics) feed.")
    name = StringField("Name", filters=[strip], validators=[Optional(), Length(max=200)],
                       description="Leave empty to use the name the feed gives itself.")
    refresh_minutes = SelectField("Check for changes", coerce=int, choices=REFRESH_CHOICES, default=30)


class SubscriptionSettingsForm(Form):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    refresh_minutes = SelectField("Check for changes", coerce=int, choices=REFRESH_CHOICES)
