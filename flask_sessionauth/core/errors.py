"""Typed errors. Each carries its HTTP status, a stable code and a message safe
to show a user, so pages, the JSON API and the CLI answer it the same way
(like Flask-WTF's ``CSRFError``) without their own ``except`` chains."""

from __future__ import annotations


class SessionAuthError(Exception):
    """Base class of every error this extension raises on purpose."""

    #: HTTP status the glue answers this error with.
    status = 400
    #: Stable machine-readable code (JSON ``code``).
    code = "error"
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidPassword(SessionAuthError):
    """Wrong credentials or wrong current password."""

    status = 401
    code = "invalid_password"
    default_message = "The password is incorrect."


class InvalidCredentials(InvalidPassword):
    """A failed sign-in: unknown email, wrong password or disabled account all
    read the same, so nobody learns which accounts exist."""

    code = "invalid_credentials"
    default_message = "Incorrect email or password."


class PasswordPolicyError(SessionAuthError):
    """A new password is too short, too long, or does not match its confirmation."""

    code = "password_policy"
    default_message = "The password does not meet the requirements."


class NotSignedIn(SessionAuthError):
    """The operation needs a signed-in user (or the session ended meanwhile)."""

    status = 401
    code = "unauthorized"
    default_message = "Sign in to continue."


class FreshLoginRequired(SessionAuthError):
    """Sudo mode: the password must be entered again first."""

    status = 403
    code = "fresh_login_required"
    default_message = "Confirm your password to continue."


class SessionNotFound(SessionAuthError):
    """No such session for this user (or it ended already)."""

    status = 404
    code = "session_not_found"
    default_message = "That device is no longer signed in."


class StorageUnavailable(SessionAuthError):
    """Session storage could not be reached; the request must fail closed.

    ``action`` names what failed in words ("Signing out", "Signing in"), so
    the page says what did not happen.
    """

    status = 503
    code = "storage_unavailable"
    default_message = "The service is temporarily unavailable. Please try again shortly."
    retry_after = 5

    def __init__(self, message: str | None = None, *, action: str | None = None) -> None:
        if message is None and action is not None:
            message = f"{action} is temporarily unavailable. Please try again shortly."
        super().__init__(message)
        self.action = action


class ConfigurationError(StorageUnavailable):
    """Storage answered, but the schema is wrong (a missing table or column):
    a programming error, logged as one, not an outage."""

    code = "misconfigured"
    default_message = "The sign-in service is not set up correctly. The site's administrators have been told."


class RateLimited(SessionAuthError):
    """Too many failed attempts for this account or address."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message or f"Too many attempts. Please try again in {wait_in_words(self.retry_after)}.")


def wait_in_words(seconds: int) -> str:
    """ "14 minutes", "1 minute", "30 seconds": the wait as people say it."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class CrossOriginRequest(SessionAuthError):
    """A state-changing request from another origin (CSRF, login CSRF, or a
    sibling subdomain): refused before anything is read."""

    status = 403
    code = "forbidden_origin"
    default_message = "Cross-site requests are not allowed."
