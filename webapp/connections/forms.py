from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp

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
