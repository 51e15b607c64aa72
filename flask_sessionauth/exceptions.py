"""Typed errors; each message is safe to show in a form."""

from __future__ import annotations


class SessionAuthError(Exception):
    """Base class of every error this extension raises on purpose."""

    code = "error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    default_message = "Something went wrong."

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidPassword(SessionAuthError):
    """Wrong credentials or wrong current password."""

    code = "invalid_password"
    default_message = "The password is incorrect."


class PasswordPolicyError(SessionAuthError):
    """A new password is too short, too long, or does not match its confirmation."""

    code = "password_policy"
    default_message = "The password does not meet the requirements."


class StorageUnavailable(SessionAuthError):
    """Session storage could not be reached; the request must fail closed."""

    code = "storage_unavailable"
    default_message = "Sign-in is temporarily unavailable. Please try again shortly."


class RateLimited(SessionAuthError):
    """Too many failed attempts for this account or address."""

    code = "rate_limited"
    default_message = "Too many attempts. Please wait and try again."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
