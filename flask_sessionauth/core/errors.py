"""Typed errors. Each carries its HTTP status, a stable code and a message safe
to show a user, so pages, the JSON API and the CLI answer it the same way
(like Flask-WTF's ``CSRFError``) without their own ``except`` chains.

A subclass states them in its header: ``class NotSignedIn(SessionAuthError,
status=401, code="unauthorized", wire_code="UNAUTHORIZED", message=_l("…"))``.
``wire_code`` is Better Auth's code for the error (the JSON API's top-level
``code``); ``code`` is this project's older lower-case code, still sent in the
deprecated nested ``error`` object of API answers.
"""

from __future__ import annotations

import typing as t

from .i18n import Lazy
from .i18n import _l
from .i18n import _ln


class SessionAuthError(Exception):
    """Base class of every error this extension raises on purpose."""

    #: HTTP status the glue answers this error with.
    status = 400
    #: Stable machine-readable code (the deprecated nested ``error.code`` of the API).
    code = "error"
    #: Better Auth's code for it: the API's top-level ``code``. A subclass that
    #: names a new ``code`` and no ``wire_code`` gets the upper-cased ``code``.
    wire_code = "ERROR"
    default_message: str | Lazy = _l("Something went wrong.")

    def __init_subclass__(
        cls,
        status: int | None = None,
        code: str | None = None,
        message: str | Lazy | None = None,
        wire_code: str | None = None,
    ) -> None:
        super().__init_subclass__()
        cls.status = status if status is not None else cls.status
        cls.code = code or cls.code
        cls.wire_code = wire_code or (code.upper() if code else cls.wire_code)
        cls.default_message = message or cls.default_message

    def __init__(self, message: str | Lazy | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(t.cast(object, self.args[0]))


class InvalidPassword(
    SessionAuthError,
    status=400,
    code="invalid_password",
    wire_code="INVALID_PASSWORD",
    message=_l("The password is incorrect."),
):
    """A wrong current password (password change, sudo confirmation); 400, as
    Better Auth answers it."""


class InvalidCredentials(
    InvalidPassword,
    status=401,
    code="invalid_credentials",
    wire_code="INVALID_EMAIL_OR_PASSWORD",
    message=_l("Incorrect email or password."),
):
    """A failed sign-in: unknown email, wrong password or disabled account all
    read the same, so nobody learns which accounts exist."""


class PasswordPolicyError(
    SessionAuthError,
    code="password_policy",
    wire_code="VALIDATION_ERROR",
    message=_l("The password does not meet the requirements."),
):
    """A new password is too short, too long, or does not match its confirmation."""


class PasswordTooShort(PasswordPolicyError, wire_code="PASSWORD_TOO_SHORT"):
    """Shorter than ``SESSIONAUTH_PASSWORD_MIN_LENGTH``."""

    @classmethod
    def at_least(cls, length: int) -> PasswordTooShort:
        return cls(_ln("Use at least %(num)d character.", "Use at least %(num)d characters.", length))


class PasswordTooLong(PasswordPolicyError, wire_code="PASSWORD_TOO_LONG"):
    """Longer than ``SESSIONAUTH_PASSWORD_MAX_LENGTH``."""

    @classmethod
    def at_most(cls, length: int) -> PasswordTooLong:
        return cls(_ln("Use at most %(num)d character.", "Use at most %(num)d characters.", length))


class NotSignedIn(
    SessionAuthError, status=401, code="unauthorized", wire_code="UNAUTHORIZED", message=_l("Sign in to continue.")
):
    """The operation needs a signed-in user (or the session ended meanwhile)."""


class FreshLoginRequired(
    SessionAuthError,
    status=403,
    code="fresh_login_required",
    wire_code="SESSION_NOT_FRESH",
    message=_l("Confirm your password to continue."),
):
    """Sudo mode: the password must be entered again first."""


class SessionNotFound(
    SessionAuthError, status=404, code="session_not_found", message=_l("That device is no longer signed in.")
):
    """No such session for this user (or it ended already)."""


class InvalidDeviceName(
    SessionAuthError,
    code="invalid_device_name",
    wire_code="VALIDATION_ERROR",
    message=_l("Use at most 60 characters of plain text for the device name."),
):
    """A device name that is not text or is over 60 characters."""


class CrossOriginRequest(
    SessionAuthError,
    status=403,
    code="forbidden_origin",
    wire_code="INVALID_ORIGIN",
    message=_l("Cross-site requests are not allowed."),
):
    """A state-changing request from another origin (CSRF, login CSRF, or a
    sibling subdomain): refused before anything is read."""


class MissingOrigin(
    CrossOriginRequest, wire_code="MISSING_OR_NULL_ORIGIN", message=_l("Send an Origin header from an allowed origin.")
):
    """An API call that does not say where it comes from (no ``Origin`` and no
    ``Sec-Fetch-Site: same-origin``, or ``Origin: null``)."""


class StateChangingNavigation(
    CrossOriginRequest, message=_l("This call changes something: send it with fetch(), not as a link or a page load.")
):
    """A navigation, prefetch or ``<img>``/``<script>`` load of a GET route that
    changes state (``Sec-Fetch-Mode`` other than ``cors``/``same-origin``)."""


class StorageUnavailable(
    SessionAuthError,
    status=503,
    code="storage_unavailable",
    wire_code="STORAGE_UNAVAILABLE",
    message=_l("Sign-in is temporarily unavailable. Please try again shortly."),
):
    """Session storage could not be reached; the request must fail closed.

    ``action`` names what failed in words ("Signing out", "Signing in"), so
    the page says what did not happen.
    """

    retry_after = 5

    def __init__(self, message: str | Lazy | None = None, *, action: str | None = None) -> None:
        if message is None and action is not None:
            message = _ACTION_MESSAGES.get(action) or _l(
                "%(action)s is temporarily unavailable. Please try again shortly.", action=action
            )
        super().__init__(message)
        self.action = action


#: Whole sentences for the actions the storage layer names, so each reads naturally
#: in every language (``action`` itself stays English, for logs).
_ACTION_MESSAGES = {
    "Signing in": _l("Signing in is temporarily unavailable. Please try again shortly."),
    "Signing out": _l("Signing out is temporarily unavailable. Please try again shortly."),
}


class ConfigurationError(
    StorageUnavailable,
    code="misconfigured",
    message=_l("The sign-in service is not set up correctly. The site's administrators have been told."),
):
    """Storage answered, but the schema is wrong (a missing table or column)
    or the database does not exist: a set-up error, logged as one, not an
    outage. ``detail`` says what to fix, for logs and the CLI, never a page."""

    detail: str | None = None


class RateLimited(SessionAuthError, status=429, code="rate_limited", wire_code="TOO_MANY_REQUESTS"):
    """Too many failed attempts for this account or address."""

    def __init__(self, retry_after: int, message: str | Lazy | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message or _l("Too many attempts. Please try again in %(wait)s.", wait=wait_in_words(self.retry_after))
        )


def wait_in_words(seconds: int) -> Lazy:
    """ "14 minutes", "1 minute", "30 seconds": the wait as people say it."""
    if seconds < 60:
        return _ln("%(num)d second", "%(num)d seconds", seconds)
    minutes = -(-seconds // 60)
    return _ln("%(num)d minute", "%(num)d minutes", minutes)


class SessionRefused(
    SessionAuthError,
    status=403,
    code="session_refused",
    wire_code="SESSION_REFUSED",
    message=_l("Signing in is not possible right now. Please try again later or contact the site's administrators."),
):
    """A ``before_session_create`` hook refused the new session (a ban, a risk
    check): raise ``SessionRefused("why")`` or return the message. A hook that
    crashes refuses too, with this generic message (the error is logged)."""


class InvalidResetToken(
    SessionAuthError,
    status=400,
    code="invalid_token",
    wire_code="INVALID_TOKEN",
    message=_l("This password reset link is invalid or has expired. Request a new one."),
):
    """A password reset token that is unknown, used, expired, or stale (the
    account's email or password changed since it was sent)."""


class ReportLinkInvalid(
    SessionAuthError,
    status=400,
    code="invalid_report_link",
    message=_l("This link is not valid. Copy the whole link from the e-mail, or sign in and check your devices."),
):
    """A "This wasn't me" link that is malformed or not signed by this site."""


class ReportLinkExpired(
    ReportLinkInvalid,
    status=410,
    code="report_link_expired",
    message=_l("This link has expired. Sign in and check your devices, or reset your password."),
):
    """A "This wasn't me" link past ``SESSIONAUTH_REPORT_LINK_MAX_AGE``."""


class ReportLinkUsed(
    ReportLinkInvalid,
    status=409,
    code="report_link_used",
    message=_l("This link was already used: that device was signed out."),
):
    """A "This wasn't me" link opened (and confirmed) before: links are single-use."""


class ReportedSessionEnded(
    ReportLinkInvalid,
    status=410,
    code="reported_session_ended",
    message=_l("That device is no longer signed in; nothing needed to be done. You can still reset your password."),
):
    """The session a "This wasn't me" link names has ended already."""
