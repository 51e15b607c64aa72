"""Typed errors. Each carries its HTTP status, a stable code and a message safe
to show a user, so pages, the JSON API and the CLI answer it the same way
(like Flask-WTF's ``CSRFError``) without their own ``except`` chains.

A subclass states all three in its header:
``class NotSignedIn(SessionAuthError, status=401, code="unauthorized", message="…")``.
"""

from __future__ import annotations


class SessionAuthError(Exception):
    """Base class of every error this extension raises on purpose."""

    #: HTTP status the glue answers this error with.
    status = 400
    #: Stable machine-readable code (JSON ``code``).
    code = "error"
    default_message = "Something went wrong."

    def __init_subclass__(cls, status: int | None = None, code: str | None = None, message: str | None = None) -> None:
        super().__init_subclass__()
        cls.status = status if status is not None else cls.status
        cls.code = code or cls.code
        cls.default_message = message or cls.default_message

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidPassword(SessionAuthError, status=401, code="invalid_password", message="The password is incorrect."):
    """Wrong credentials or wrong current password."""


class InvalidCredentials(InvalidPassword, code="invalid_credentials", message="Incorrect email or password."):
    """A failed sign-in: unknown email, wrong password or disabled account all
    read the same, so nobody learns which accounts exist."""


class PasswordPolicyError(
    SessionAuthError, code="password_policy", message="The password does not meet the requirements."
):
    """A new password is too short, too long, or does not match its confirmation."""


class NotSignedIn(SessionAuthError, status=401, code="unauthorized", message="Sign in to continue."):
    """The operation needs a signed-in user (or the session ended meanwhile)."""


class FreshLoginRequired(
    SessionAuthError, status=403, code="fresh_login_required", message="Confirm your password to continue."
):
    """Sudo mode: the password must be entered again first."""


class SessionNotFound(
    SessionAuthError, status=404, code="session_not_found", message="That device is no longer signed in."
):
    """No such session for this user (or it ended already)."""


class CrossOriginRequest(
    SessionAuthError, status=403, code="forbidden_origin", message="Cross-site requests are not allowed."
):
    """A state-changing request from another origin (CSRF, login CSRF, or a
    sibling subdomain): refused before anything is read."""


class StorageUnavailable(
    SessionAuthError,
    status=503,
    code="storage_unavailable",
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
    """Storage answered, but the schema is wrong (a missing table or column):
    a programming error, logged as one, not an outage."""


class RateLimited(SessionAuthError, status=429, code="rate_limited"):
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
