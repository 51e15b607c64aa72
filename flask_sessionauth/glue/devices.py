"""The known-device cookie of a request: read it for an account, set it after
a successful sign-in (see :mod:`flask_sessionauth.core.devices`)."""

from __future__ import annotations

import hashlib
import hmac

from flask import has_request_context
from flask import request
from flask.wrappers import Response

from ..core import devices
from ..core.config import Settings
from .cookies import write_cookie


class KnownDevices:
    """One app's device cookies: ``<session cookie name>_device`` (so
    ``__Host-`` prefixed when secure), HttpOnly, SameSite like the session
    cookie, ``SESSIONAUTH_DEVICE_COOKIE_MAX_AGE`` long (0 turns them off).
    Signing out keeps it: it proves past sign-ins, not a session."""

    def __init__(self, secret: bytes, settings: Settings, max_age: int) -> None:
        self._key = hmac.new(secret, b"flask-sessionauth.device", hashlib.sha256).digest()
        self.settings = settings
        self.name = f"{settings.cookie_name}_device"
        self.max_age = max_age

    def nonce(self, identity: object) -> str | None:
        """The nonce of this request's device cookie if it was issued for
        ``identity``, else ``None``."""
        if not self.max_age or not has_request_context():
            return None
        return devices.nonce_of(self._key, request.cookies.get(self.name), identity)

    def value_for(self, identity: str, nonce: str | None) -> str | None:
        """The device cookie to send for ``identity`` after a right password
        (``None`` when turned off): a valid nonce is kept (its counters stay),
        else a new one is drawn. The hook writes it with the new session's
        cookie, after it."""
        return devices.issue(self._key, identity, nonce) if self.max_age else None

    def write(self, response: Response, value: str) -> None:
        write_cookie(response, self.settings, self.name, value, self.max_age)
