"""Account operations: password authentication, password changes, users.

"Authentication" here always means checking a password; checking a session
token is "validation" (:mod:`.sessions`). Every password check goes through
:meth:`Accounts._check`, so unknown accounts, wrong passwords and passwords
the hasher cannot take all cost the same work, and every one is rate limited.
"""

from __future__ import annotations

import dataclasses
import typing as t
import weakref

import sqlalchemy as sa

from ..core import messages
from ..core import signals
from ..core.errors import InvalidPassword
from ..core.passwords import PasswordHasher
from ..core.records import Client
from ..core.records import normalize_email
from ..storage import storage_errors
from ..storage.sql import Guard
from .ratelimit import Key
from .ratelimit import Limiter
from .sessions import Sessions

#: Longest identity (email) looked up; longer is no account.
MAX_IDENTITY_LENGTH = 320


def is_inactive(user: t.Any) -> bool:
    return getattr(user, "is_active", True) is False


@dataclasses.dataclass(eq=False)
class Accounts:
    """The account operations of one app."""

    db: t.Any
    user_model: t.Any
    identity_attr: str
    password_attr: str
    hasher: PasswordHasher
    limiter: Limiter
    sessions: Sessions
    #: The app, as sender of signals; held weakly so this per-app object never keeps it alive.
    app: dataclasses.InitVar[t.Any]

    def __post_init__(self, app: t.Any) -> None:
        self._active_column = sa.inspect(self.user_model).columns.get("is_active")
        # The table's column, not the ORM attribute: a polymorphic mapping
        # would adapt the locking read to its UNION, where FOR UPDATE fails.
        self._password_column = sa.inspect(self.user_model).get_property(self.password_attr).columns[0]
        self._app = weakref.ref(app)

    # -- users ------------------------------------------------------------------

    def identity(self, user: t.Any) -> str:
        return str(getattr(user, self.identity_attr))

    def find(self, email: str) -> t.Any | None:
        """The user with this email (case-insensitive), or ``None``."""
        if not isinstance(email, str):
            return None
        identity = normalize_email(email)
        # NULs and lone surrogates cannot be sent to PostgreSQL; no email has them.
        if not identity or len(identity) > MAX_IDENTITY_LENGTH or not identity.isprintable():
            return None
        column = getattr(self.user_model, self.identity_attr)
        with storage_errors():
            stmt = sa.select(self.user_model).where(sa.func.lower(column) == identity).limit(1)
            return self.db.session.execute(stmt).scalar_one_or_none()

    def create(self, email: str, password: str, **fields: t.Any) -> t.Any:
        """Create and commit a user with a hashed password and a normalised email."""
        fields[self.identity_attr] = normalize_email(email)
        fields[self.password_attr] = self.hasher.hash(password)
        user = self.user_model(**fields)
        with storage_errors():
            self.db.session.add(user)
            self._commit()
        return user

    def guard(self, user: t.Any, verified_hash: str | None = None) -> Guard:
        """What a new session of ``user`` must still find true when it is written:
        the hash just verified (else the one loaded in the instance, if any)
        unchanged, and the account active."""
        if verified_hash is None:
            loaded = sa.inspect(user).dict.get(self.password_attr)
            verified_hash = loaded if isinstance(loaded, str) else None
        return Guard(self._password_column, verified_hash, self._active_column)

    # -- password checks ------------------------------------------------------------

    def _check(self, user: t.Any | None, password: t.Any, keys: list[Key], identity: t.Any, reason: str) -> bool:
        """The one password check: the same work whether or not ``user`` exists
        (or is active), counted against ``keys`` when it fails; an outdated
        hash is upgraded on success."""
        # Nobody, or an inactive account: the same work on no hash, and the
        # password of a disabled account is never tested.
        usable = user is not None and not is_inactive(user)
        result = self.hasher.check(password, getattr(user, self.password_attr, None) if usable else None)
        if not result.ok:
            reached = self.limiter.failed(keys)
            if reached:
                user_id = getattr(user, "id", None) if usable else None
                ip = next((key.label for key in reached if key.label), None)
                signals.rate_limited.send(self._app(), user_id=user_id, scope=reached[0].kind, ip=ip)
            signals.login_failed.send(self._app(), identity=identity, reason=reason if not usable else "password")
            return False
        if result.new_hash is not None:
            setattr(user, self.password_attr, result.new_hash)
            with storage_errors():
                self._commit()
        self.limiter.succeeded(keys)
        return True

    def authenticate(
        self, email: t.Any, password: t.Any, client: Client | None, device: str | None = None
    ) -> tuple[t.Any, str] | None:
        """``(user, verified hash)`` if these credentials are right, else ``None``.

        Unknown emails, wrong passwords and disabled accounts cost the same work
        and give the same answer. Raises :class:`RateLimited` first when a
        limit is reached (see :mod:`.ratelimit`); ``device`` is the nonce of a
        known-device cookie verified for ``email``.
        """
        identity = email if isinstance(email, str) else None
        keys = self.limiter.check(self.limiter.sign_in_keys(identity, client, device)) if client else []
        if identity is None or not isinstance(password, str):
            self._check(None, password, keys, email, "malformed")
            return None
        user = self.find(identity)
        reason = "unknown" if user is None else "inactive"
        if not self._check(user, password, keys, email, reason):
            return None
        return user, t.cast(str, getattr(user, self.password_attr))

    def verify(
        self,
        user: t.Any,
        password: t.Any,
        client: Client | None,
        session_id: str | None = None,
        device: str | None = None,
    ) -> bool:
        """Check the password of a known ``user`` (sudo confirm, password change):
        limited per (account, session) and per address when signed in, else
        like a sign-in."""
        identity = self.identity(user)
        if client is None:
            keys: list[Key] = []
        elif session_id is not None:
            keys = self.limiter.check(self.limiter.reauth_keys(identity, session_id, client))
        else:
            keys = self.limiter.check(self.limiter.sign_in_keys(identity, client, device))
        return self._check(user, password, keys, identity, "password")

    # -- password changes ---------------------------------------------------------

    def change_password(
        self,
        user: t.Any,
        current_password: t.Any,
        new_password: t.Any,
        *,
        revoke_others: bool,
        keep: str | None,
        client: Client | None,
        confirm_password: str | None = None,
        device: str | None = None,
    ) -> list[str]:
        """Check the current password, store the new hash; with ``revoke_others``
        every session but ``keep`` ends in the same transaction. Returns the
        revoked ids. Raises :class:`InvalidPassword` (nothing changes) or
        :class:`PasswordPolicyError`."""
        if not self.verify(user, current_password, client, keep, device):
            raise InvalidPassword(messages.CURRENT_PASSWORD_WRONG)
        self.hasher.check_policy(new_password, confirm_password)
        return self._store_password(user, new_password, revoke_others, keep, "password_change")

    def set_password(self, user: t.Any, new_password: str, revoke_sessions: bool) -> list[str]:
        """Admin reset: no current password; ends every session unless told not to."""
        return self._store_password(user, new_password, revoke_sessions, None, "password_reset")

    def _store_password(self, user: t.Any, password: str, revoke: bool, keep: str | None, reason: str) -> list[str]:
        """Hash and store ``password``; with ``revoke`` the user's sessions (but
        ``keep``) end in the same transaction (``delete`` commits the ORM
        session: hash and revocation land together)."""
        setattr(user, self.password_attr, self.hasher.hash(password))
        revoked: list[str] = []
        if revoke:
            revoked = self.sessions.revoke(user.id, None, keep, reason)
        else:
            with storage_errors():
                self._commit()
        signals.password_changed.send(self._app(), user=user, revoked=len(revoked))
        return revoked

    def _commit(self) -> None:
        try:
            self.db.session.commit()
        except BaseException:
            self.db.session.rollback()
            raise
