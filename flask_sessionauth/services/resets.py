"""Password reset by e-mail (Better Auth's ``requestPasswordReset`` /
``resetPassword``) and the nonces of "This wasn't me" links.

A reset token is 32 random bytes (URL-safe base64, 43 characters), stored only
as its SHA-256 (:mod:`..storage.verification`), single-use and expiring. It
is bound to the account's state when sent (an HMAC of its id, email and
password hash): after the email or the password changes, the token is void.
Nothing here reads the Flask request: callers pass a
:class:`~flask_sessionauth.core.records.Client`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import typing as t
import weakref

import sqlalchemy as sa

from ..core import lifecycle
from ..core import signals
from ..core.errors import InvalidResetToken
from ..core.records import Client
from ..core.records import normalize_email
from ..storage.verification import Verifications
from .accounts import Accounts
from .accounts import is_inactive
from .ratelimit import Limiter

RESET = "reset"
REPORT = "report"
RESET_ADDRESS = "reset_ip"
RESET_PAIR = "reset_pair"
#: What :func:`secrets.token_urlsafe` (32) gives; anything else is refused unread.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def well_formed(token: t.Any) -> bool:
    return isinstance(token, str) and TOKEN.fullmatch(token) is not None


@dataclasses.dataclass(eq=False)
class PasswordResets:
    """Reset tokens and report nonces of one app."""

    accounts: Accounts
    verifications: Verifications
    limiter: Limiter
    key: bytes
    max_age: int
    revoke_sessions: bool
    app: dataclasses.InitVar[t.Any]

    def __post_init__(self, app: t.Any) -> None:
        self._app = weakref.ref(app)
        mapper = sa.inspect(self.accounts.user_model)
        self._user_id_type = mapper.primary_key[0].type.python_type

    def binding(self, user: t.Any) -> str:
        """The account's state a token is bound to: its id, email and password hash."""
        parts = (str(user.id), normalize_email(self.accounts.identity(user)), str(self._password(user)))
        return hmac.new(self.key, "\x00".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def report_binding(self, user: t.Any, session_id: str) -> str:
        """What a "This wasn't me" nonce is bound to: the session it names and the
        account's email (the link mints a reset token: mailed to an old address,
        it must not work once the account moved to a new one)."""
        mailbox = normalize_email(self.accounts.identity(user))
        mac = hmac.new(self.key, f"report\x00{user.id}\x00{mailbox}".encode("utf-8", "surrogatepass"), hashlib.sha256)
        return f"{session_id}|{mac.hexdigest()}"

    def _password(self, user: t.Any) -> t.Any:
        return getattr(user, self.accounts.password_attr, None)

    def user_key(self, user_id: str) -> t.Any:
        """A stored user id (text) as the user model's primary key type."""
        return self._user_id_type(user_id)

    def load_user(self, user_id: str) -> t.Any | None:
        try:
            key = self.user_key(user_id)
        except (TypeError, ValueError):
            return None
        return self.accounts.db.session.get(self.accounts.user_model, key)

    def issue(self, user: t.Any) -> str:
        """A new reset token for ``user`` (stored hashed); the caller sends it."""
        token = secrets.token_urlsafe(32)
        self.verifications.add(RESET, token, user.id, self.binding(user), lifecycle.utcnow(), self.max_age)
        return token

    def request(self, email: t.Any, client: Client | None) -> tuple[t.Any, str] | None:
        """Rate-limit, then ``(user, token)`` for an active account with this
        email, else ``None``. Every request counts (found or not)."""
        if client is not None:
            bucket = self.limiter.key(RESET_ADDRESS, client.ip_address or "")
            keys = [bucket]
            if isinstance(email, str) and email.strip():
                keys.append(self.limiter.key(RESET_PAIR, normalize_email(email), client.ip_address or ""))
            self.limiter.failed(self.limiter.check(keys))
        user = self.accounts.find(email) if isinstance(email, str) else None
        if user is None or is_inactive(user):
            return None
        return user, self.issue(user)

    def check(self, token: t.Any) -> t.Any:
        """The user a live, unused, current token belongs to; else :class:`InvalidResetToken`."""
        if not well_formed(token):
            raise InvalidResetToken()
        found = self.verifications.find(RESET, token)
        if found is None or found.expires_at <= lifecycle.utcnow():
            raise InvalidResetToken()
        user = self.load_user(found.user_id)
        if user is None or is_inactive(user) or not hmac.compare_digest(found.binding, self.binding(user)):
            raise InvalidResetToken()
        return user

    def reset(self, token: t.Any, new_password: t.Any, confirm_password: t.Any = None) -> tuple[t.Any, list[str]]:
        """Set a new password with a reset token: checked, then used up (of two
        concurrent uses one wins), then the password stored; every session ends
        unless ``SESSIONAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET`` is off."""
        user = self.check(token)
        self.accounts.hasher.check_policy(new_password, confirm_password)
        if not self.verifications.consume(RESET, token):
            raise InvalidResetToken()
        revoked = self.accounts.set_password(user, new_password, self.revoke_sessions)
        self.verifications.forget_user(RESET, user.id)
        signals.password_reset.send(self._app(), user=user, revoked=len(revoked))
        return user, revoked
