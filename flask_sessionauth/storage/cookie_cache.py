"""The cookie cache (``SESSIONAUTH_COOKIE_CACHE_MAX_AGE`` seconds, 0 = off).

A second cookie, ``<session cookie name>_cache`` with the same attributes,
carries a signed copy of the session record, so a request presenting a fresh
one skips storage entirely. It is:

* signed with itsdangerous using the app's ``SECRET_KEY``; keys listed in
  ``SECRET_KEY_FALLBACKS`` still verify (rotation: the new key signs);
* bound to the session cookie: it names the session id and holds the hash of
  the session's secret, which the presented session cookie must match. It
  never holds the secret itself;
* short-lived: the signature's timestamp must be at most ``max_age`` old;
* bound to the app and database: the signing salt names the database URL and
  the session and user tables, so a cache cookie of another app, even one
  sharing the ``SECRET_KEY``, never verifies here.

**Enabling the cache makes ``SECRET_KEY`` (and every key in
``SECRET_KEY_FALLBACKS``) an impersonation key**: whoever holds one can mint a
cache cookie for any user that is accepted without a database row for up to
``max_age`` seconds. Keep the cache off unless storage latency matters, keep
``max_age`` short, and retire fallback keys promptly.

The price is the revocation delay: a revoked session keeps working on a
device that holds a fresh cache cookie for at most ``max_age`` seconds
(documented, and tested). Sensitive actions never rely on it: the
extension's own pages and API always read storage, and so do
:meth:`SessionAuth.is_fresh` (sudo mode) and the management calls acting on
the current user (see :func:`flask_sessionauth.glue.hook.verify_with_storage`),
and so does every view marked :func:`flask_sessionauth.sensitive`.
"""

from __future__ import annotations

import json
import typing as t

from itsdangerous import BadData
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_decode
from itsdangerous.encoding import base64_encode

from ..core import tokens
from ..core.records import SessionRecord
from ..core.records import record_from_json
from ..core.records import record_to_json

SALT = "flask-sessionauth.cookie-cache"


class CachedRecord(SessionRecord):
    """A record taken from the cookie cache: not checked against storage in
    this request (so it may be up to ``max_age`` seconds stale)."""

    __slots__ = ()


class CookieCache:
    """Reads and writes the cache cookie of one app.

    The value is ``base64url(JSON record) . timestamp . signature``: an
    itsdangerous :class:`~itsdangerous.TimestampSigner` signature over a
    compact payload. Signers are built once per key set (not per request),
    and the payload is not compressed: this runs on every request.
    """

    def __init__(self, session_cookie_name: str, max_age: int, storage_identity: str) -> None:
        self.name = f"{session_cookie_name}_cache"
        self.max_age = max_age
        self.salt = f"{SALT}|{storage_identity}"
        self._keys: tuple[t.Any, ...] = ()
        self._signers: list[TimestampSigner] = []

    def set_keys(self, keys: tuple[t.Any, ...]) -> None:
        """The app's ``SECRET_KEY`` then its fallbacks; signers are rebuilt only
        when they change (key rotation), not per request."""
        if keys != self._keys:
            if not keys or not keys[0]:
                raise RuntimeError("SESSIONAUTH_COOKIE_CACHE_MAX_AGE needs the app's SECRET_KEY.")
            self._signers = [TimestampSigner(key, salt=self.salt) for key in keys]
            self._keys = keys

    def signers(self) -> list[TimestampSigner]:
        """Newest key first."""
        return self._signers

    def load(self, value: str | None, token: tokens.Token) -> CachedRecord | None:
        """The record in ``value`` if it is genuine, fresh and names ``token``'s
        session; else ``None``. The secret is checked by ``lifecycle.evaluate``."""
        if not value:
            return None
        for signer in self.signers():
            try:
                payload = signer.unsign(value, max_age=self.max_age)
                break
            except SignatureExpired:
                return None
            except BadSignature:
                continue
        else:
            return None
        try:
            record = record_from_json(json.loads(base64_decode(payload)), CachedRecord)
        except (TypeError, ValueError, BadData):
            return None
        # Bound to this session cookie: the id must match here, and the
        # caller's lifecycle.evaluate checks the secret against the hash.
        if record.id != token.session_id:
            return None
        return record

    def dump(self, record: SessionRecord) -> str:
        payload = base64_encode(json.dumps(record_to_json(record), separators=(",", ":")))
        return self.signers()[0].sign(payload).decode("ascii")
