"""What every form shares: no field accepts control characters (webapp.text says which, and why).

Every form derives from `Form`, whose Meta puts `no_control_characters` first on every field, so a new field cannot
forget it and the message appears next to the field with a 422 like any other input error.
"""
from __future__ import annotations

import re

from flask import abort, request
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import StopValidation

from webapp.text import has_control_characters

CONTROL_CHARACTER_MESSAGE = "Remove the invisible control characters (such as NUL) from this field."


def no_control_characters(form, field) -> None:
    if any(isinstance(value, str) and has_control_characters(value) for value in field.raw_data or ()):
        raise StopValidation(CONTROL_CHARACTER_MESSAGE)


class Form(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            if len(unbound_field.args) > 1:
                raise TypeError(f"{form.__class__.__name__}: pass a field's validators by keyword")
            validators = unbound_field.kwargs.get("validators") or ()
            return unbound_field.bind(form=form, **options, validators=[no_control_characters, *validators])


class WholeNumberField(IntegerField):
    """An IntegerField for small counts. At most nine digits: a pasted 400-digit number is an input error in place,
    not an OverflowError in NumberRange (which compares the value with a float)."""

    def process_formdata(self, valuelist):
        text = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if text and not re.fullmatch(r"[+-]?\d{1,9}", text):
            self.data = None
            raise ValueError("Use a whole number.")
        super().process_formdata(valuelist)


def reject_control_characters_in_url() -> None:
    """No address of ours has control characters in its path or query: answer before any view parses them."""
    if has_control_characters(request.path):
        abort(404)
    for name, value in request.args.items(multi=True):
        if has_control_characters(name) or has_control_characters(value):
            abort(400, description="That link contains characters that cannot be part of an address here.")
