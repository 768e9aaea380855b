"""The web app's forms; Flask-WTF adds and checks each one's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField, TextAreaField


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("E-mail or phone")
    password = PasswordField("Password")
    submit = SubmitField("Sign in")


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A form with only its CSRF token: acknowledge, sign out."""


class ResolveForm(FlaskForm):  # type: ignore[misc]
    # Whether a note is long enough is the service's rule; the form only carries it.
    note = TextAreaField("What was done")
    submit = SubmitField("Resolve")


class ReassignForm(FlaskForm):  # type: ignore[misc]
    clinician_id = SelectField("Hand to", coerce=int, validate_choice=False)
    submit = SubmitField("Reassign")
