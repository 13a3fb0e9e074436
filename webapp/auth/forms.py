from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from webapp.forms import Form

MIN_PASSWORD_LENGTH = 10
# Long passphrases are welcome; the cap only stops multi-megabyte bodies from reaching argon2.
MAX_PASSWORD_LENGTH = 1024


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def email_field() -> EmailField:
    return EmailField(
        "Email", filters=[strip], validators=[DataRequired(), Email(check_deliverability=False), Length(max=255)]
    )


def new_password_field(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )


def repeat_password_field() -> PasswordField:
    return PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")]
    )


class RegisterForm(Form):
    email = email_field()
    password = new_password_field()
    confirm = repeat_password_field()
    first_name = StringField("First name", filters=[strip], validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", filters=[strip], validators=[Optional(), Length(max=100)])


class LoginForm(Form):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class ForgotPasswordForm(Form):
    email = email_field()


class ResetPasswordForm(Form):
    token = HiddenField(validators=[DataRequired(), Length(max=100)])
    password = new_password_field("New password")
    confirm = repeat_password_field()


class ConfirmSignupForm(Form):
    token = HiddenField(validators=[DataRequired(), Length(max=100)])


class AcceptInvitationForm(Form):
    token = HiddenField(validators=[DataRequired(), Length(max=100)])
    password = new_password_field()
    confirm = repeat_password_field()
    first_name = StringField("First name", filters=[strip], validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", filters=[strip], validators=[Optional(), Length(max=100)])


class ResendSignupForm(Form):
    token = HiddenField(validators=[DataRequired(), Length(max=500)])
