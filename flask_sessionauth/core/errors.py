"""Typed errors. Each carries its HTTP status, a stable code and a message safe
to show a user, so pages, the JSON API and the CLI answer it the same way
(like Flask-WTF's ``CSRFError``) without their own ``except`` chains.

A subclass states them in its header: ``class NotSignedIn(SessionAuthError,
status=401, code="unauthorized", wire_code="UNAUTHORIZED", message="…")``.
``wire_code`` is Better Auth's code for the error (the JSON API's top-level
``code``); ``code`` is this project's older lower-case code, still sent in the
deprecated nested ``error`` object of API answers.
"""

from __future__ import annotations


class SessionAuthError(Exception):
    """Base class of every error this extension raises on purpose."""

    #: HTTP status the glue answers this error with.
    status = 400
    #: Stable machine-readable code (the deprecated nested ``error.code`` of the API).
    code = "error"
    #: Better Auth's code for it: the API's top-level ``code``. A subclass that
    #: names a new ``code`` and no ``wire_code`` gets the upper-cased ``code``.
    wire_code = "ERROR"
    default_message = "Something went wrong."

    def __init_subclass__(
        cls,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        wire_code: str | None = None,
    ) -> None:
        super().__init_subclass__()
        cls.status = status if status is not None else cls.status
        cls.code = code or cls.code
        cls.wire_code = wire_code or (code.upper() if code else cls.wire_code)
        cls.default_message = message or cls.default_message

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidPassword(
    SessionAuthError,
    status=400,
    code="invalid_password",
    wire_code="INVALID_PASSWORD",
    message="The password is incorrect.",
):
    """A wrong current password (password change, sudo confirmation); 400, as
    Better Auth answers it."""


class InvalidCredentials(
    InvalidPassword,
    status=401,
    code="invalid_credentials",
    wire_code="INVALID_EMAIL_OR_PASSWORD",
    message="Incorrect email or password.",
):
    """A failed sign-in: unknown email, wrong password or disabled account all
    read the same, so nobody learns which accounts exist."""


class PasswordPolicyError(
    SessionAuthError,
    code="password_policy",
    wire_code="VALIDATION_ERROR",
    message="The password does not meet the requirements.",
):
    """A new password is too short, too long, or does not match its confirmation."""


class PasswordTooShort(PasswordPolicyError, wire_code="PASSWORD_TOO_SHORT"):
    """Shorter than ``SESSIONAUTH_PASSWORD_MIN_LENGTH``."""


class PasswordTooLong(PasswordPolicyError, wire_code="PASSWORD_TOO_LONG"):
    """Longer than ``SESSIONAUTH_PASSWORD_MAX_LENGTH``."""


class NotSignedIn(
    SessionAuthError, status=401, code="unauthorized", wire_code="UNAUTHORIZED", message="Sign in to continue."
):
    """The operation needs a signed-in user (or the session ended meanwhile)."""


class FreshLoginRequired(
    SessionAuthError,
    status=403,
    code="fresh_login_required",
    wire_code="SESSION_NOT_FRESH",
    message="Confirm your password to continue.",
):
    """Sudo mode: the password must be entered again first."""


class SessionNotFound(
    SessionAuthError, status=404, code="session_not_found", message="That device is no longer signed in."
):
    """No such session for this user (or it ended already)."""


class InvalidDeviceName(
    SessionAuthError,
    code="invalid_device_name",
    wire_code="VALIDATION_ERROR",
    message="Use at most 60 characters of plain text for the device name.",
):
    """A device name that is not text or is over 60 characters."""


class CrossOriginRequest(
    SessionAuthError,
    status=403,
    code="forbidden_origin",
    wire_code="INVALID_ORIGIN",
    message="Cross-site requests are not allowed.",
):
    """A state-changing request from another origin (CSRF, login CSRF, or a
    sibling subdomain): refused before anything is read."""


class MissingOrigin(
    CrossOriginRequest, wire_code="MISSING_OR_NULL_ORIGIN", message="Send an Origin header from an allowed origin."
):
    """An API call that does not say where it comes from (no ``Origin`` and no
    ``Sec-Fetch-Site: same-origin``, or ``Origin: null``)."""


class StateChangingNavigation(
    CrossOriginRequest, message="This call changes something: send it with fetch(), not as a link or a page load."
):
    """A navigation, prefetch or ``<img>``/``<script>`` load of a GET route that
    changes state (``Sec-Fetch-Mode`` other than ``cors``/``same-origin``)."""


class StorageUnavailable(
    SessionAuthError,
    status=503,
    code="storage_unavailable",
    wire_code="STORAGE_UNAVAILABLE",
    message="Sign-in is temporarily unavailable. Please try again shortly.",
):
    """Session storage could not be reached; the request must fail closed.

    ``action`` names what failed in words ("Signing out", "Signing in"), so
    the page says what did not happen.
    """

    retry_after = 5

    def __init__(self, message: str | None = None, *, action: str | None = None) -> None:
        if message is None and action is not None:
            message = f"{action} is temporarily unavailable. Please try again shortly."
        super().__init__(message)
        self.action = action


class ConfigurationError(
    StorageUnavailable,
    code="misconfigured",
    message="The sign-in service is not set up correctly. The site's administrators have been told.",
):
    """Storage answered, but the schema is wrong (a missing table or column)
    or the database does not exist: a set-up error, logged as one, not an
    outage. ``detail`` says what to fix, for logs and the CLI, never a page."""

    detail: str | None = None


class RateLimited(SessionAuthError, status=429, code="rate_limited", wire_code="TOO_MANY_REQUESTS"):
    """Too many failed attempts for this account or address."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message or f"Too many attempts. Please try again in {wait_in_words(self.retry_after)}.")


def wait_in_words(seconds: int) -> str:
    """ "14 minutes", "1 minute", "30 seconds": the wait as people say it."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
