"""The recovery pages: forgot password, reset password, and the confirmation
page of a new-device mail's "This wasn't me" link. Plain forms, no JavaScript.

The "This wasn't me" page changes nothing on GET (mail scanners prefetch
links); the device is signed out by the page's POST, with its CSRF token.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from ..core import messages
from ..core.errors import InvalidResetToken
from ..core.errors import PasswordPolicyError
from ..core.errors import RateLimited
from ..core.useragent import describe
from ..glue import recovery
from ..glue.proxies import sensitive
from .forms import ForgotPasswordForm
from .forms import ReportForm
from .forms import ResetPasswordForm
from .render import bind
from .render import page
from .render import rate_limited

FORGOT = "sessionauth/forgot_password.html"
RESET = "sessionauth/reset_password.html"
REPORT = "sessionauth/report_device.html"


def forgot_password() -> t.Any:
    """Ask for a reset link: the same page, status and time whether or not
    the address has an account."""
    form = bind(ForgotPasswordForm)
    if not form.validate_on_submit():
        return page(FORGOT, 400 if form.is_submitted() else 200, form=form)
    try:
        recovery.request_reset(form.email.data)
    except RateLimited as exc:
        return rate_limited(FORGOT, exc, form=form)
    return page(FORGOT, form=form, sent=messages.RESET_REQUESTED)


def reset_password() -> t.Any:
    """Choose a new password with the link's token (``?token=`` or the form's)."""
    form = bind(ResetPasswordForm)
    token = request.values.get("token", "")
    form.token.data = token
    try:
        recovery.check_reset_token(token)
    except InvalidResetToken as exc:
        return page(RESET, exc.status, form=None, token_error=exc.message)
    if not form.validate_on_submit():
        return page(RESET, 400 if form.is_submitted() else 200, form=form)
    try:
        recovery.reset_password(token, form.new_password.data, form.confirm_password.data)
    except InvalidResetToken as exc:  # used meanwhile (another tab)
        return page(RESET, exc.status, form=None, token_error=exc.message)
    except PasswordPolicyError as exc:
        form.new_password.errors = [*form.new_password.errors, exc.message]
        return page(RESET, 400, form=form)
    flash(str(messages.PASSWORD_RESET_DONE), "success")
    return redirect(url_for("sessionauth.login"))


def report_device() -> t.Any:
    """GET: say which device the link names and offer to sign it out. POST: do it,
    then go on to choosing a new password. Used, expired, ended or forged links
    raise their own error (a 4xx page with its own message)."""
    token = request.values.get("token", "")
    form = bind(ReportForm)
    if not form.validate_on_submit():
        report = recovery.inspect_report(token)
        device = describe(report.user_agent).display
        return page(REPORT, 400 if form.is_submitted() else 200, form=form, token=token, device=device)
    reset_token = recovery.confirm_report(token)
    flash(str(messages.REPORT_DONE), "success")
    if reset_token is None:
        return redirect(url_for("sessionauth.forgot_password"))
    return redirect(url_for("sessionauth.reset_password", token=reset_token))


def add_recovery_pages(bp: Blueprint) -> None:
    """Register the pages on the account pages' blueprint (storage read, never the cookie cache)."""
    for view in (forgot_password, reset_password, report_device):
        bp.add_url_rule(f"/{view.__name__.replace('_', '-')}", view.__name__, sensitive(view), methods=["GET", "POST"])
