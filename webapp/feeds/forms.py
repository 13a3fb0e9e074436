from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf

from webapp.forms import Form

ISSUE, TURN_OFF, GUESTS = "issue", "off", "guests"
BUSY_ISSUE, BUSY_OFF = "busy-issue", "busy-off"  # the busy-only address ("Share your availability")


class SubscribeForm(Form):
    action = HiddenField(validators=[AnyOf([ISSUE, TURN_OFF, GUESTS, BUSY_ISSUE, BUSY_OFF], message="Unknown action.")])
    include_attendees = BooleanField("Include guests (their names and email addresses)")
