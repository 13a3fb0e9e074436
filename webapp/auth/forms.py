from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

MIN_PASSWORD_LENGTH = 10
# Long passphrases are welcome; the cap only stops multi-megabyte bodies from reaching argon2.
MAX_PASSWORD_LENGTH = 1024


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class RegisterForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired(), Email(check_deliverability=False), Length(max=255)]
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")]
    )
    first_name = StringField("First name", filters=[strip], validators=[Optional(), Length(max=100)])
    last_name = StringField("Last name", filters=[strip], validators=[Optional(), Length(max=100)])


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
