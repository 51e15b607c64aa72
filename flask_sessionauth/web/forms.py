"""Flask-WTF forms of the account pages.

Field names are part of the public contract (README, "Account pages"): apps that override a
template, and scripts that post to these pages, rely on them. Every form
carries ``csrf_token``; the blueprint refuses a POST with a missing or invalid
token before any form is read (400), so these forms only judge field values.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import Field
from wtforms import Form
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import ValidationError

from ..core.errors import PasswordPolicyError
from ..core.i18n import _l
from ..core.i18n import _n
from ..glue.state import app_state


def _max_length() -> int:
    return app_state().settings.password_max_length


def within_max_length(form: Form, field: Field) -> None:
    """Passwords over the maximum are an explicit error, never silently truncated
    (and never sent to the hasher, so a megabyte of input costs nothing)."""
    if isinstance(field.data, str) and len(field.data) > _max_length():
        raise ValidationError(_n("Use at most %(num)d character.", "Use at most %(num)d characters.", _max_length()))


class EmailForm(FlaskForm):  # type: ignore[misc]
    """The account's email address, as the sign-in and forgot-password forms ask it."""

    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=320, message=_l("That email is too long.")),
        ],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )


class LoginForm(EmailForm):
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), within_max_length],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"), default=True)


class NewPasswordForm(FlaskForm):  # type: ignore[misc]
    """A new password and its confirmation (reset form; the change form adds the current one)."""

    new_password = PasswordField(
        _l("New password"),
        validators=[InputRequired(_l("Enter a new password."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("Confirm new password"),
        validators=[
            InputRequired(_l("Enter the new password again.")),
            EqualTo("new_password", message=_l("The passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_new_password(self, field: Field) -> None:
        """The extension's own policy, so the form and the API never disagree."""
        try:
            app_state().hasher.check_policy(field.data)
        except PasswordPolicyError as exc:
            raise ValidationError(exc.message) from exc


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(_l("Enter your current password.")), within_max_length],
        render_kw={"autocomplete": "current-password"},
    )
    revoke_other_sessions = BooleanField(_l("Sign out of other devices"), default=True)


class ResetPasswordForm(NewPasswordForm):
    token = HiddenField()


class ForgotPasswordForm(EmailForm):
    pass


class ReportForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: the button that signs the reported device out."""


class ConfirmPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), within_max_length],
        render_kw={"autocomplete": "current-password"},
    )


def page_number() -> int:
    """``?page=N`` of a paged account page (devices, activity): anything but a small positive whole
    number is the first page (a typo is not an error worth a page). ASCII
    digits only: ``str.isdigit`` also takes ``²`` and ``①``, which ``int`` refuses."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 6 and int(raw) > 0 else 1
