"""Revocable, database-backed login sessions and an active-devices dashboard for Flask."""

from __future__ import annotations

#: The package's version: the only place it is written (setup.cfg reads it with
#: ``attr:``; CHANGELOG.md has a section per release).
__version__ = "0.1.0"

from .core.anonymous import AnonymousSession
from .core.anonymous import AnonymousUser
from .core.anonymous import CurrentUser
from .core.anonymous import UserMixin
from .core.errors import ConfigurationError
from .core.errors import CrossOriginRequest
from .core.errors import FreshLoginRequired
from .core.errors import InvalidCredentials
from .core.errors import InvalidPassword
from .core.errors import NotSignedIn
from .core.errors import PasswordPolicyError
from .core.errors import RateLimited
from .core.errors import SessionAuthError
from .core.errors import SessionNotFound
from .core.errors import StorageUnavailable
from .core.legacy_hashes import LegacyVerifier
from .core.records import Verification
from .core.signals import admin_action
from .core.signals import login_failed
from .core.signals import new_device_sign_in
from .core.signals import password_changed
from .core.signals import password_reset
from .core.signals import rate_limited
from .core.signals import session_created
from .core.signals import session_renamed
from .core.signals import session_reported
from .core.signals import session_revoked
from .core.signals import sudo_confirmed
from .extension import SessionAuth
from .glue.proxies import current_session
from .glue.proxies import current_user
from .glue.proxies import fresh_login_required
from .glue.proxies import login_required
from .glue.proxies import sensitive
from .storage.model import IssuedSession
from .storage.model import UserSession

__all__ = [
    "AnonymousSession",
    "AnonymousUser",
    "ConfigurationError",
    "CrossOriginRequest",
    "CurrentUser",
    "FreshLoginRequired",
    "InvalidCredentials",
    "InvalidPassword",
    "IssuedSession",
    "NotSignedIn",
    "PasswordPolicyError",
    "RateLimited",
    "SessionAuth",
    "SessionAuthError",
    "SessionNotFound",
    "StorageUnavailable",
    "LegacyVerifier",
    "UserMixin",
    "UserSession",
    "Verification",
    "admin_action",
    "new_device_sign_in",
    "password_reset",
    "rate_limited",
    "session_renamed",
    "session_reported",
    "sudo_confirmed",
    "current_session",
    "current_user",
    "fresh_login_required",
    "login_failed",
    "login_required",
    "password_changed",
    "sensitive",
    "session_created",
    "session_revoked",
]
