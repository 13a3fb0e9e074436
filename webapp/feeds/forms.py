from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf

from webapp.forms import Form

ISSUE, TURN_OFF, GUESTS = "issue", "off", "guests"


class SubscribeForm(Form):
    action = HiddenField(validators=[AnyOf([ISSUE, TURN_OFF, GUESTS], message="Unknown action.")])
    include_attendees = BooleanField("Include guests (their names and email addresses)")
