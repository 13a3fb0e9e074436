from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf

ISSUE, TURN_OFF, GUESTS = "issue", "off", "guests"


class SubscribeForm(FlaskForm):
    action = HiddenField(validators=[AnyOf([ISSUE, TURN_OFF, GUESTS], message="Unknown action.")])
    include_attendees = BooleanField("Include guests (their names and email addresses)")
