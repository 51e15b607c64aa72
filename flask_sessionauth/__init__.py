"""Revocable, database-backed login sessions and an active-devices dashboard for Flask."""

from __future__ import annotations

from .anonymous import AnonymousSession
from .anonymous import AnonymousUser
from .anonymous import UserMixin
from .context import current_session
from .context import current_user
from .context import fresh_login_required
from .context import login_required
from .exceptions import InvalidPassword
from .exceptions import PasswordPolicyError
from .exceptions import RateLimited
from .exceptions import SessionAuthError
from .exceptions import StorageUnavailable
from .extension import SessionAuth
from .signals import login_failed
from .signals import password_changed
from .signals import session_created
from .signals import session_revoked

__all__ = [
    "AnonymousSession",
    "AnonymousUser",
    "InvalidPassword",
    "PasswordPolicyError",
    "RateLimited",
    "SessionAuth",
    "SessionAuthError",
    "StorageUnavailable",
    "UserMixin",
    "current_session",
    "current_user",
    "fresh_login_required",
    "login_failed",
    "login_required",
    "password_changed",
    "session_created",
    "session_revoked",
]
